//! The sessions index: entries, updates, removal and duplicate links.

use wa_wasm::web::{DuplicateLink, SessionIndex, SessionInfo, find_duplicates, idb};
use wasm_bindgen_test::wasm_bindgen_test;

use crate::idb_store::unique_session;

async fn fresh_index() -> (SessionIndex, String) {
    let name = format!("wa-wasm-test:index:{}", unique_session("index"));
    (SessionIndex::open_named(&name).await.unwrap(), name)
}

#[wasm_bindgen_test]
async fn entries_are_created_updated_listed_and_removed() {
    let (index, database) = fresh_index().await;
    assert_eq!(index.list().await.unwrap(), []);
    assert_eq!(index.get("org-1").await.unwrap(), None);

    let created = index.touch("org-2", 1_000).await.unwrap();
    assert_eq!(created, SessionInfo::new("org-2", 1_000));
    index.touch("org-1", 1_500).await.unwrap();
    let linked = index
        .set_link(
            "org-2",
            Some("15551234567:12@s.whatsapp.net"),
            Some("98765432101234:12@lid"),
            2_000,
        )
        .await
        .unwrap();
    assert_eq!(linked.created_at_ms, 1_000);
    assert_eq!(linked.last_activity_ms, 2_000);
    assert_eq!(linked.phone_number().as_deref(), Some("15551234567"));
    // Activity keeps the link; an older clock reading never moves time back.
    let touched = index.touch("org-2", 1_800).await.unwrap();
    assert_eq!(touched.me.as_deref(), Some("15551234567:12@s.whatsapp.net"));
    assert_eq!(touched.last_activity_ms, 2_000);

    let listed = index.list().await.unwrap();
    let names: Vec<&str> = listed.iter().map(|s| s.name.as_str()).collect();
    assert_eq!(names, ["org-1", "org-2"]);
    assert_eq!(index.get("org-2").await.unwrap(), Some(touched.clone()));

    // Reopening reads the same entries back.
    drop(index);
    let index = SessionIndex::open_named(&database).await.unwrap();
    assert_eq!(index.list().await.unwrap(), listed);

    // A logout clears the link.
    let unlinked = index.set_link("org-2", None, None, 3_000).await.unwrap();
    assert_eq!(
        (unlinked.phone_number(), unlinked.me, unlinked.lid),
        (None, None, None)
    );
    index.remove("org-1").await.unwrap();
    index.remove("never-existed").await.unwrap();
    let names: Vec<String> = index
        .list()
        .await
        .unwrap()
        .into_iter()
        .map(|s| s.name)
        .collect();
    assert_eq!(names, ["org-2"]);
    drop(index);
    idb::delete_database(&database).await.unwrap();
}

/// Concurrent updates run read-modify-write in one transaction each, so none
/// is lost.
#[wasm_bindgen_test]
async fn concurrent_updates_do_not_lose_fields() {
    let (index, database) = fresh_index().await;
    let link = index.set_link("org", Some("15550001111@s.whatsapp.net"), None, 10);
    let touch = index.touch("org", 20);
    let (linked, touched) = futures_join(link, touch).await;
    linked.unwrap();
    touched.unwrap();
    let entry = index.get("org").await.unwrap().unwrap();
    assert_eq!(entry.me.as_deref(), Some("15550001111@s.whatsapp.net"));
    assert_eq!(entry.last_activity_ms, 20);
    drop(index);
    idb::delete_database(&database).await.unwrap();
}

/// Polls two futures together (both start their transactions at once).
async fn futures_join<A: Future, B: Future>(a: A, b: B) -> (A::Output, B::Output) {
    let mut a = Box::pin(a);
    let mut b = Box::pin(b);
    let (mut ra, mut rb) = (None, None);
    std::future::poll_fn(|cx| {
        if ra.is_none()
            && let std::task::Poll::Ready(value) = a.as_mut().poll(cx)
        {
            ra = Some(value);
        }
        if rb.is_none()
            && let std::task::Poll::Ready(value) = b.as_mut().poll(cx)
        {
            rb = Some(value);
        }
        if ra.is_some() && rb.is_some() {
            std::task::Poll::Ready(())
        } else {
            std::task::Poll::Pending
        }
    })
    .await;
    (ra.unwrap(), rb.unwrap())
}

#[wasm_bindgen_test]
async fn duplicate_links_are_reported_for_every_session_involved() {
    let (index, database) = fresh_index().await;
    index
        .set_link("shop-a", Some("15551234567:3@s.whatsapp.net"), None, 1)
        .await
        .unwrap();
    index
        .set_link("shop-b", Some("15551234567:9@s.whatsapp.net"), None, 2)
        .await
        .unwrap();
    index
        .set_link("shop-c", Some("15559999999:1@s.whatsapp.net"), None, 3)
        .await
        .unwrap();
    index.touch("unlinked", 4).await.unwrap();
    assert_eq!(
        index.duplicates().await.unwrap(),
        [DuplicateLink {
            phone_number: "15551234567".into(),
            sessions: vec!["shop-a".into(), "shop-b".into()],
        }]
    );
    assert_eq!(index.duplicates_of("shop-a").await.unwrap(), ["shop-b"]);
    assert_eq!(index.duplicates_of("shop-b").await.unwrap(), ["shop-a"]);
    assert!(index.duplicates_of("shop-c").await.unwrap().is_empty());
    assert!(index.duplicates_of("unlinked").await.unwrap().is_empty());
    // Unlinking one resolves it.
    index.set_link("shop-b", None, None, 5).await.unwrap();
    assert!(index.duplicates().await.unwrap().is_empty());
    drop(index);
    idb::delete_database(&database).await.unwrap();
}

#[wasm_bindgen_test]
fn find_duplicates_groups_by_phone_number() {
    let entry = |name: &str, me: Option<&str>| SessionInfo {
        me: me.map(str::to_owned),
        ..SessionInfo::new(name, 0)
    };
    let sessions = [
        entry("c", Some("222:1@s.whatsapp.net")),
        entry("a", Some("111@s.whatsapp.net")),
        entry("b", Some("111:7@s.whatsapp.net")),
        entry("d", Some("222")),
        entry("e", None),
        entry("f", Some("333:2@s.whatsapp.net")),
    ];
    assert_eq!(
        find_duplicates(&sessions),
        [
            DuplicateLink {
                phone_number: "111".into(),
                sessions: vec!["a".into(), "b".into()]
            },
            DuplicateLink {
                phone_number: "222".into(),
                sessions: vec!["c".into(), "d".into()]
            },
        ]
    );
    assert!(find_duplicates(&sessions[4..]).is_empty());
}
