//! JIDs: the addresses of users, devices, groups, broadcasts and servers.
//!
//! Owns the [`Jid`] value, the [`Server`] names, the text forms (`Display`/`FromStr`) and
//! the rules for which combinations can travel in WABinary. Does not own the binary
//! encoding itself (see `encode`/`decode`).

use std::fmt::{self, Write};
use std::str::FromStr;

use super::text::Text;

/// A JID server (the part after `@`).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Server {
    /// `s.whatsapp.net`: phone-number users (and the server itself, with an empty user).
    Whatsapp,
    /// `lid`: hidden "LID" identities.
    Lid,
    /// `g.us`: groups.
    Group,
    /// `broadcast`: broadcast lists and `status@broadcast`.
    Broadcast,
    /// `newsletter`: channels.
    Newsletter,
    /// `hosted`: hosted (business API) phone-number accounts.
    Hosted,
    /// `hosted.lid`: hosted accounts by LID.
    HostedLid,
    /// `bot`: bots such as Meta AI.
    Bot,
    /// `c.us`: the legacy user server (contact queries, message-id hashing).
    LegacyUser,
    /// `msgr`: Messenger users.
    Messenger,
    /// `interop`: users of interoperating messengers.
    Interop,
    /// Any other server name. Build it with [`Server::from`] so that known names map to
    /// their own variant; an `Other` holding a known name compares unequal to it.
    Other(String),
}

impl Server {
    /// The server's name as written after `@`.
    pub fn as_str(&self) -> &str {
        match self {
            Server::Whatsapp => "s.whatsapp.net",
            Server::Lid => "lid",
            Server::Group => "g.us",
            Server::Broadcast => "broadcast",
            Server::Newsletter => "newsletter",
            Server::Hosted => "hosted",
            Server::HostedLid => "hosted.lid",
            Server::Bot => "bot",
            Server::LegacyUser => "c.us",
            Server::Messenger => "msgr",
            Server::Interop => "interop",
            Server::Other(name) => name,
        }
    }

    /// The known server with this name, if any.
    pub fn known(name: &str) -> Option<Server> {
        Server::known_bytes(name.as_bytes())
    }

    pub(crate) fn known_bytes(name: &[u8]) -> Option<Server> {
        Some(match name {
            b"s.whatsapp.net" => Server::Whatsapp,
            b"lid" => Server::Lid,
            b"g.us" => Server::Group,
            b"broadcast" => Server::Broadcast,
            b"newsletter" => Server::Newsletter,
            b"hosted" => Server::Hosted,
            b"hosted.lid" => Server::HostedLid,
            b"bot" => Server::Bot,
            b"c.us" => Server::LegacyUser,
            b"msgr" => Server::Messenger,
            b"interop" => Server::Interop,
            _ => return None,
        })
    }

    /// The AD_JID domain type byte of this server, for the servers that have one
    /// (`s.whatsapp.net` 0, `lid` 1, `hosted` 128, `hosted.lid` 129).
    pub fn domain_type(&self) -> Option<u8> {
        match self {
            Server::Whatsapp => Some(DOMAIN_WHATSAPP),
            Server::Lid => Some(DOMAIN_LID),
            Server::Hosted => Some(DOMAIN_HOSTED),
            Server::HostedLid => Some(DOMAIN_HOSTED_LID),
            _ => None,
        }
    }

    /// The server an AD_JID domain type byte names; other values are agents on
    /// `s.whatsapp.net`.
    pub(crate) fn from_domain_type(domain: u8) -> (Server, u8) {
        match domain {
            DOMAIN_LID => (Server::Lid, 0),
            DOMAIN_HOSTED => (Server::Hosted, 0),
            DOMAIN_HOSTED_LID => (Server::HostedLid, 0),
            agent => (Server::Whatsapp, agent),
        }
    }
}

const DOMAIN_WHATSAPP: u8 = 0;
const DOMAIN_LID: u8 = 1;
const DOMAIN_HOSTED: u8 = 128;
const DOMAIN_HOSTED_LID: u8 = 129;

impl From<&str> for Server {
    fn from(name: &str) -> Server {
        Server::known(name).unwrap_or_else(|| Server::Other(name.to_owned()))
    }
}

impl From<String> for Server {
    fn from(name: String) -> Server {
        Server::known(&name).unwrap_or(Server::Other(name))
    }
}

impl fmt::Display for Server {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Why a JID text could not be parsed, or why a JID cannot be encoded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum JidError {
    /// The text was empty.
    #[error("empty JID")]
    Empty,
    /// The text has no `@` and is not the name of a known server.
    #[error("{0:?} is neither `user@server` nor a known server name")]
    MissingAt(String),
    /// The server part was empty.
    #[error("JID {0:?} has an empty server")]
    EmptyServer(String),
    /// The server part contained a second `@`.
    #[error("JID {0:?} has more than one '@'")]
    TooManyAt(String),
    /// The device after `:` was not a number in range.
    #[error("JID {0:?} has an invalid device number")]
    InvalidDevice(String),
    /// The integrator before `-` (interop JIDs) was not a number in range.
    #[error("JID {0:?} has an invalid integrator number")]
    InvalidIntegrator(String),
    /// An agent (`user.N` / `user_N`) on a server that has none, or one that collides
    /// with a domain type (1, 128, 129 name other servers).
    #[error("agent {agent} is not allowed on server {server}")]
    AgentNotAllowed {
        /// The agent number.
        agent: u8,
        /// The JID's server.
        server: String,
    },
    /// A device number on a server whose JIDs carry none, or above what its binary form
    /// holds (255 for `s.whatsapp.net`, `lid`, `hosted`, `hosted.lid`).
    #[error("device {device} is not allowed on server {server}")]
    DeviceNotAllowed {
        /// The device number.
        device: u16,
        /// The JID's server.
        server: String,
    },
    /// An integrator on a server other than `interop`.
    #[error("integrator {integrator} is only allowed on the interop server, not {server}")]
    IntegratorNotAllowed {
        /// The integrator number.
        integrator: u16,
        /// The JID's server.
        server: String,
    },
}

/// A WhatsApp JID: `user[.agent][:device]@server`, or an interop
/// `integrator-user:device@interop`, or a bare server.
///
/// Build one with the constructors ([`Jid::pn`], [`Jid::lid`], [`Jid::group`],
/// [`Jid::server_jid`], …) and [`Jid::with_device`], or parse its text with `str::parse`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Jid {
    user: Text,
    agent: u8,
    device: u16,
    integrator: u16,
    server: Server,
}

impl Jid {
    /// A JID with a user on a server, no device.
    pub fn new(user: impl Into<Text>, server: Server) -> Jid {
        Jid {
            user: user.into(),
            agent: 0,
            device: 0,
            integrator: 0,
            server,
        }
    }

    /// All parts, as the decoder reads them (it only produces forms `check` accepts).
    pub(crate) fn from_parts(
        user: Text,
        agent: u8,
        device: u16,
        integrator: u16,
        server: Server,
    ) -> Jid {
        Jid {
            user,
            agent,
            device,
            integrator,
            server,
        }
    }

    /// A phone-number user: `user@s.whatsapp.net`.
    pub fn pn(user: impl Into<Text>) -> Jid {
        Jid::new(user, Server::Whatsapp)
    }

    /// A LID user: `user@lid`.
    pub fn lid(user: impl Into<Text>) -> Jid {
        Jid::new(user, Server::Lid)
    }

    /// A group: `id@g.us`.
    pub fn group(id: impl Into<Text>) -> Jid {
        Jid::new(id, Server::Group)
    }

    /// The server itself: `s.whatsapp.net` (empty user), the usual `to` of IQs.
    pub fn server_jid() -> Jid {
        Jid::new(Text::new(), Server::Whatsapp)
    }

    /// The status broadcast: `status@broadcast`.
    pub fn status_broadcast() -> Jid {
        Jid::new("status", Server::Broadcast)
    }

    /// A Messenger user device: `user:device@msgr`.
    pub fn messenger(user: impl Into<Text>, device: u16) -> Jid {
        Jid::new(user, Server::Messenger).with_device(device)
    }

    /// An interop user device: `integrator-user:device@interop`.
    pub fn interop(integrator: u16, user: impl Into<Text>, device: u16) -> Jid {
        Jid {
            integrator,
            ..Jid::new(user, Server::Interop).with_device(device)
        }
    }

    /// A phone-number device with a raw agent: `user.agent:device@s.whatsapp.net`.
    ///
    /// Agents 1, 128 and 129 are domain types that name other servers; they are refused.
    pub fn with_agent(user: impl Into<Text>, agent: u8, device: u16) -> Result<Jid, JidError> {
        let jid = Jid {
            agent,
            device,
            ..Jid::pn(user)
        };
        jid.check()?;
        Ok(jid)
    }

    /// The same JID with another device number (device 0 is the primary device).
    pub fn with_device(self, device: u16) -> Jid {
        Jid { device, ..self }
    }

    /// The user-only form (no agent, no device): what chats and usync queries use.
    pub fn to_non_ad(&self) -> Jid {
        Jid {
            user: self.user.clone(),
            agent: 0,
            device: 0,
            integrator: self.integrator,
            server: self.server.clone(),
        }
    }

    /// The user part (a phone number, LID, group id, …; empty for a server JID).
    pub fn user(&self) -> &str {
        &self.user
    }

    /// The raw agent (only on `s.whatsapp.net`; usually 0).
    pub fn agent(&self) -> u8 {
        self.agent
    }

    /// The device number (0 = primary device or no device).
    pub fn device(&self) -> u16 {
        self.device
    }

    /// The interop integrator (0 unless the server is `interop`).
    pub fn integrator(&self) -> u16 {
        self.integrator
    }

    /// The server.
    pub fn server(&self) -> &Server {
        &self.server
    }

    /// The byte an AD_JID carries for this JID: the server's domain type (0, 1, 128, 129),
    /// or the raw agent on `s.whatsapp.net`.
    pub fn domain_type(&self) -> u8 {
        match self.server.domain_type() {
            Some(DOMAIN_WHATSAPP) | None => self.agent,
            Some(domain) => domain,
        }
    }

    /// The name of this JID's Signal protocol address: the user, plus `_<domain type>`
    /// for the servers whose domain type is not 0 (`1234_1` for a LID, `_128`/`_129` for
    /// hosted accounts; a raw agent is not part of it, as in whatsmeow). The address's
    /// device id is [`Jid::device`].
    pub fn signal_address_name(&self) -> String {
        match self.server.domain_type() {
            None | Some(DOMAIN_WHATSAPP) => self.user.to_string(),
            Some(domain) => format!("{}_{domain}", self.user),
        }
    }

    /// True when both JIDs name the same user on the same server, whatever the devices.
    pub fn same_user(&self, other: &Jid) -> bool {
        self.user == other.user
            && self.server == other.server
            && self.integrator == other.integrator
    }

    /// True for group JIDs (`g.us`).
    pub fn is_group(&self) -> bool {
        self.server == Server::Group
    }

    /// True for LID JIDs (`lid`, and hosted `hosted.lid`).
    pub fn is_lid(&self) -> bool {
        matches!(self.server, Server::Lid | Server::HostedLid)
    }

    /// True for phone-number user JIDs (`s.whatsapp.net` with a user, or `hosted`).
    pub fn is_pn(&self) -> bool {
        matches!(self.server, Server::Whatsapp | Server::Hosted) && !self.user.is_empty()
    }

    /// True for hosted accounts (`hosted`, `hosted.lid`).
    pub fn is_hosted(&self) -> bool {
        matches!(self.server, Server::Hosted | Server::HostedLid)
    }

    /// True for broadcast JIDs, including `status@broadcast`.
    pub fn is_broadcast(&self) -> bool {
        self.server == Server::Broadcast
    }

    /// True for `status@broadcast`.
    pub fn is_status_broadcast(&self) -> bool {
        self.server == Server::Broadcast && self.user == "status"
    }

    /// True for newsletter (channel) JIDs.
    pub fn is_newsletter(&self) -> bool {
        self.server == Server::Newsletter
    }

    /// True for a bare server JID (empty user, no device), e.g. `s.whatsapp.net`.
    pub fn is_server(&self) -> bool {
        self.user.is_empty() && self.device == 0 && self.agent == 0 && self.integrator == 0
    }

    /// True when this JID names one device (it has a device number or an agent).
    pub fn is_ad(&self) -> bool {
        self.device != 0 || self.agent != 0
    }

    /// Checks that the combination of agent, device, integrator and server has a binary
    /// form that decodes back to the same JID.
    pub fn check(&self) -> Result<(), JidError> {
        let server = || self.server.as_str().to_owned();
        if self.server.as_str().is_empty() {
            return Err(JidError::EmptyServer(self.to_string()));
        }
        if self.agent != 0
            && (self.server != Server::Whatsapp
                || matches!(self.agent, DOMAIN_LID | DOMAIN_HOSTED | DOMAIN_HOSTED_LID))
        {
            return Err(JidError::AgentNotAllowed {
                agent: self.agent,
                server: server(),
            });
        }
        if self.integrator != 0 && self.server != Server::Interop {
            return Err(JidError::IntegratorNotAllowed {
                integrator: self.integrator,
                server: server(),
            });
        }
        let max_device = match self.server {
            Server::Whatsapp | Server::Lid | Server::Hosted | Server::HostedLid => {
                u16::from(u8::MAX)
            }
            Server::Messenger | Server::Interop => u16::MAX,
            _ => 0,
        };
        if self.device > max_device {
            return Err(JidError::DeviceNotAllowed {
                device: self.device,
                server: server(),
            });
        }
        Ok(())
    }
}

impl fmt::Display for Jid {
    /// `user@server`, `user:device@server`, `user.agent:device@server`,
    /// `integrator-user:device@interop`, or just `server` for a server JID.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.server == Server::Interop {
            return write!(
                f,
                "{}-{}:{}@{}",
                self.integrator, self.user, self.device, self.server
            );
        }
        if self.is_server() {
            // Bare names are only parsed back for known servers.
            if let Server::Other(name) = &self.server {
                f.write_char('@')?;
                return f.write_str(name);
            }
            return f.write_str(self.server.as_str());
        }
        f.write_str(&self.user)?;
        if self.agent != 0 {
            write!(f, ".{}:{}", self.agent, self.device)?;
        } else if self.device != 0 {
            write!(f, ":{}", self.device)?;
        }
        write!(f, "@{}", self.server)
    }
}

impl FromStr for Jid {
    type Err = JidError;

    /// Parses the forms `Display` writes, plus `@server` for a server JID and Baileys'
    /// `user_agent:device@server` agent form (an agent equal to the server's own domain
    /// type, as in `123_1@lid`, is dropped).
    fn from_str(text: &str) -> Result<Jid, JidError> {
        if text.is_empty() {
            return Err(JidError::Empty);
        }
        let (local, server) = match text.split_once('@') {
            None if Server::known(text).is_some() => ("", text),
            None => return Err(JidError::MissingAt(text.to_owned())),
            Some((local, server)) => (local, server),
        };
        if server.is_empty() {
            return Err(JidError::EmptyServer(text.to_owned()));
        }
        if server.contains('@') {
            return Err(JidError::TooManyAt(text.to_owned()));
        }
        let server = Server::from(server);
        let (rest, device) = match local.rsplit_once(':') {
            Some((rest, device)) => {
                let device = parse_number::<u16>(device)
                    .ok_or_else(|| JidError::InvalidDevice(text.to_owned()))?;
                (rest, device)
            }
            None => (local, 0),
        };
        let mut jid = Jid::new(Text::new(), server);
        jid.device = device;
        if jid.server == Server::Interop {
            let (integrator, user) = match rest.split_once('-') {
                Some((integrator, user)) => (
                    parse_number::<u16>(integrator)
                        .ok_or_else(|| JidError::InvalidIntegrator(text.to_owned()))?,
                    user,
                ),
                None => (0, rest),
            };
            jid.integrator = integrator;
            jid.user = Text::from(user);
        } else {
            let agent_split = rest.rfind(['.', '_']).and_then(|at| {
                let agent = rest.get(at + 1..)?;
                Some((rest.get(..at)?, parse_number::<u8>(agent)?))
            });
            match agent_split {
                Some((user, agent)) => {
                    jid.user = Text::from(user);
                    jid.agent = if jid.server.domain_type() == Some(agent) {
                        0
                    } else {
                        agent
                    };
                }
                None => jid.user = Text::from(rest),
            }
        }
        jid.check()?;
        Ok(jid)
    }
}

/// A decimal number made only of ASCII digits (no sign, no spaces).
fn parse_number<T: FromStr>(digits: &str) -> Option<T> {
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(s: &str) -> Jid {
        s.parse().unwrap()
    }

    #[test]
    fn text_forms() {
        let cases: [(&str, Jid); 12] = [
            ("123@s.whatsapp.net", Jid::pn("123")),
            ("123:7@s.whatsapp.net", Jid::pn("123").with_device(7)),
            (
                "123.9:7@s.whatsapp.net",
                Jid::with_agent("123", 9, 7).unwrap(),
            ),
            (
                "123.9:0@s.whatsapp.net",
                Jid::with_agent("123", 9, 0).unwrap(),
            ),
            ("s.whatsapp.net", Jid::server_jid()),
            ("1203630-1616@g.us", Jid::group("1203630-1616")),
            ("status@broadcast", Jid::status_broadcast()),
            ("987:3@lid", Jid::lid("987").with_device(3)),
            ("55:1@hosted", Jid::new("55", Server::Hosted).with_device(1)),
            ("7-42:3@interop", Jid::interop(7, "42", 3)),
            ("42:300@msgr", Jid::messenger("42", 300)),
            (
                "x@example.org",
                Jid::new("x", Server::Other("example.org".into())),
            ),
        ];
        for (text, jid) in cases {
            assert_eq!(jid.to_string(), text);
            assert_eq!(parse(text), jid, "{text}");
        }
    }

    #[test]
    fn alternative_spellings() {
        assert_eq!(parse("@s.whatsapp.net"), Jid::server_jid());
        assert_eq!(parse("g.us"), Jid::new("", Server::Group));
        let other_server = Jid::new("", Server::Other("example.org".into()));
        assert_eq!(other_server.to_string(), "@example.org");
        assert_eq!(parse("@example.org"), other_server);
        assert_eq!(
            parse("123_9:2@s.whatsapp.net"),
            Jid::with_agent("123", 9, 2).unwrap()
        );
        assert_eq!(parse("123_1:2@lid"), Jid::lid("123").with_device(2));
        assert_eq!(parse("42@interop"), Jid::interop(0, "42", 0));
        assert_eq!(parse("abc_def@example.org").user(), "abc_def");
    }

    #[test]
    fn bad_text() {
        assert_eq!("".parse::<Jid>(), Err(JidError::Empty));
        assert!(matches!("x".parse::<Jid>(), Err(JidError::MissingAt(_))));
        assert!(matches!(
            "12345".parse::<Jid>(),
            Err(JidError::MissingAt(_))
        ));
        assert!(matches!(
            "123@".parse::<Jid>(),
            Err(JidError::EmptyServer(_))
        ));
        assert!(matches!(
            "a@b@c".parse::<Jid>(),
            Err(JidError::TooManyAt(_))
        ));
        assert!(matches!(
            "123:x@s.whatsapp.net".parse::<Jid>(),
            Err(JidError::InvalidDevice(_))
        ));
        assert!(matches!(
            "123:70000@msgr".parse::<Jid>(),
            Err(JidError::InvalidDevice(_))
        ));
        assert!(matches!(
            "x-1:2@interop".parse::<Jid>(),
            Err(JidError::InvalidIntegrator(_))
        ));
        assert!(matches!(
            "123:256@s.whatsapp.net".parse::<Jid>(),
            Err(JidError::DeviceNotAllowed { device: 256, .. })
        ));
        assert!(matches!(
            "123:1@g.us".parse::<Jid>(),
            Err(JidError::DeviceNotAllowed { .. })
        ));
        assert!(matches!(
            "123.5:1@lid".parse::<Jid>(),
            Err(JidError::AgentNotAllowed { .. })
        ));
        assert!(matches!(
            "123.1:1@s.whatsapp.net".parse::<Jid>(),
            Err(JidError::AgentNotAllowed { agent: 1, .. })
        ));
        assert!(Jid::with_agent("1", 128, 0).is_err());
    }

    #[test]
    fn helpers() {
        let device = Jid::pn("123").with_device(5);
        assert!(device.is_ad() && device.is_pn() && !device.is_lid() && !device.is_group());
        assert_eq!(device.to_non_ad(), Jid::pn("123"));
        assert_eq!(device.device(), 5);
        assert!(Jid::lid("1").is_lid() && Jid::new("1", Server::HostedLid).is_lid());
        assert!(Jid::group("1-2").is_group());
        assert!(Jid::status_broadcast().is_status_broadcast());
        assert!(Jid::server_jid().is_server() && !Jid::server_jid().is_pn());
        assert_eq!(Jid::lid("1").domain_type(), 1);
        assert_eq!(Jid::new("1", Server::HostedLid).domain_type(), 129);
        assert_eq!(Jid::with_agent("1", 9, 0).unwrap().domain_type(), 9);
        assert_eq!(Jid::pn("55").with_device(3).signal_address_name(), "55");
        assert_eq!(Jid::lid("77").with_device(3).signal_address_name(), "77_1");
        assert_eq!(Jid::new("9", Server::Hosted).signal_address_name(), "9_128");
        assert_eq!(
            Jid::with_agent("9", 7, 1).unwrap().signal_address_name(),
            "9"
        );
        assert!(Jid::pn("55").with_device(3).same_user(&Jid::pn("55")));
        assert!(!Jid::pn("55").same_user(&Jid::lid("55")));
        assert_eq!(Server::from("hosted.lid"), Server::HostedLid);
        assert_eq!(
            Server::from(String::from("x.y")),
            Server::Other("x.y".into())
        );
        assert_eq!(Server::from_domain_type(128), (Server::Hosted, 0));
        assert_eq!(Server::from_domain_type(5), (Server::Whatsapp, 5));
    }
}
