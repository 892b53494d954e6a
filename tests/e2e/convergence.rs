//! Three tablets edit one case offline and reconnect in every order: they all
//! end with the same document, every visit and both concurrent addresses.

use veldwerk_core::case::{
    self, AddressStatus, CaseRecord, NewVisit, Theme, VisitKind, VisitStatus,
};
use veldwerk_core::identity::{OrganisationKind, Role};

use crate::on_both_databases;
use crate::support::{Db, Socket, Tablet, TestServer};

fn visit(id: &str, author: &str) -> NewVisit {
    NewVisit {
        id: id.into(),
        at_ms: 1_790_000_000_000,
        author: author.into(),
        organisation: "Jeugdzorg Noord".into(),
        kind: VisitKind::Home,
        present: vec![],
        observations: vec![(Theme::Wellbeing, format!("Bezoek door {author}"))],
        status: VisitStatus::Submitted,
    }
}

const ORDERS: [[usize; 3]; 6] = [
    [0, 1, 2],
    [0, 2, 1],
    [1, 0, 2],
    [1, 2, 0],
    [2, 0, 1],
    [2, 1, 0],
];

async fn three_tablets_converge_in_every_order(db: Db) {
    let server = TestServer::start(db).await;
    let org = "Jeugdzorg Noord";
    let mut users = Vec::new();
    for handle in ["anna", "bram", "cor"] {
        users.push(
            server
                .user(org, OrganisationKind::YouthCare, handle, Role::FieldWorker)
                .await,
        );
    }

    for order in ORDERS {
        let case_id = server
            .create_case(&users[0], &format!("Familie {order:?}"))
            .await;
        let mut tablets: Vec<Tablet> = users
            .iter()
            .map(|u| Tablet::new(&u.principal.actor_id))
            .collect();

        // Online: every tablet fetches the case.
        for (tablet, user) in tablets.iter_mut().zip(&users) {
            let mut socket = Socket::bearer(&server.ws(""), &user.token).await;
            let doc = socket.fetch(case_id).await.expect("case fetched");
            tablet.adopt(case_id, doc);
            socket.close().await;
        }

        // Offline: a visit each; anna and bram both record a new address.
        for (i, tablet) in tablets.iter_mut().enumerate() {
            let doc = tablet.doc(case_id);
            case::add_visit(doc, &visit(&format!("v{i}"), &users[i].principal.handle)).unwrap();
            if i < 2 {
                case::set_address(doc, &format!("Nieuw adres {i}"), AddressStatus::Moved).unwrap();
            }
            doc.commit();
        }

        // Back online in this order, twice round so early ones hear of later ones.
        for _round in 0..2 {
            for &i in &order {
                let mut socket = Socket::bearer(&server.ws(""), &users[i].token).await;
                socket
                    .sync(case_id, tablets[i].doc(case_id))
                    .await
                    .expect("tablet syncs");
                assert!(
                    socket.heard.errors.is_empty(),
                    "server errors: {:?}",
                    socket.heard.errors
                );
                socket.close().await;
            }
        }

        let mut heads: Vec<_> = tablets
            .iter_mut()
            .map(|t| {
                let mut h = t.doc(case_id).get_heads();
                h.sort();
                h
            })
            .collect();
        heads.dedup();
        assert_eq!(heads.len(), 1, "order {order:?}: tablets differ");

        // What the server stored is the same document.
        let mut socket = Socket::bearer(&server.ws(""), &users[2].token).await;
        let mut on_server = socket.fetch(case_id).await.expect("case fetched");
        let mut server_heads = on_server.get_heads();
        server_heads.sort();
        assert_eq!(server_heads, heads[0], "order {order:?}: server differs");

        for tablet in &mut tablets {
            let doc = tablet.doc(case_id);
            let record = CaseRecord::new(&*doc);
            let mut visits = record.visit_ids().unwrap();
            visits.sort();
            assert_eq!(visits, ["v0", "v1", "v2"], "order {order:?}");
            let view = record.view().unwrap();
            let mut addresses: Vec<_> = view.address.into_iter().map(|a| a.value).collect();
            addresses.sort();
            assert_eq!(
                addresses,
                ["Nieuw adres 0", "Nieuw adres 1"],
                "order {order:?}"
            );
            record.validate().unwrap();
        }
        assert_eq!(
            CaseRecord::new(&on_server).project().unwrap().visits.len(),
            3
        );
        socket.close().await;
    }
}

on_both_databases!(three_tablets_converge_in_every_order);
