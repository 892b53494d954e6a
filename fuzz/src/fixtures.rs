//! The records the targets start from, made with core's own writers, and the
//! people whose changes are judged: every role and kind of organisation, with
//! the names the records already use, so the write rules see their own author
//! as often as a stranger.

use std::sync::OnceLock;

use arbitrary::Arbitrary;
use automerge::transaction::Transactable;
use automerge::{ActorId, Automerge, AutomergeError, ObjType, ROOT, ReadDoc};
use veldwerk_core::case::{
    self, AddressStatus, MemberRole, NewCase, NewSignal, NewVisit, ReviewStatus, SignalKind, Theme,
    VisitKind, VisitStatus,
};
use veldwerk_core::identity::{OrganisationKind, Role, Standing};
use veldwerk_core::rules::Writer;

/// The actor id of the changes a fixture is made of: the server's own.
pub const FIXTURE_ACTOR: [u8; 16] = [0xf0; 16];

/// The actor id a tablet's first changes are made with.
pub const TABLET_ACTOR: [u8; 16] = [1; 16];

/// People and their organisations, as the fixtures name them.
pub const PEOPLE: &[(&str, &str)] = &[
    ("ada", "Gemeente Ergens"),
    ("bea", "Gemeente Ergens"),
    ("cor", "Jeugdzorg Noord"),
    ("piet", "Politie Midden"),
    ("dirk", "Gemeente Ergens"),
    ("", ""),
];

/// Who writes the changes being judged: any role of any kind of organisation,
/// standing anywhere to the case.
#[derive(Debug, Clone, Copy, Arbitrary)]
pub struct WriterChoice {
    person: u8,
    role: u8,
    kind: u8,
    on_team: bool,
    directs: bool,
}

impl WriterChoice {
    pub fn writer(self) -> Writer<'static> {
        let (handle, organisation) = PEOPLE[usize::from(self.person) % PEOPLE.len()];
        Writer {
            handle,
            organisation,
            organisation_kind: OrganisationKind::ALL
                [usize::from(self.kind) % OrganisationKind::ALL.len()],
            role: Role::ALL[usize::from(self.role) % Role::ALL.len()],
            standing: Standing {
                on_team: self.on_team,
                directs: self.directs,
            },
        }
    }
}

/// Ada, a field worker of the municipality that directs the case.
pub fn field_worker() -> Writer<'static> {
    Writer {
        handle: "ada",
        organisation: "Gemeente Ergens",
        organisation_kind: OrganisationKind::Municipality,
        role: Role::FieldWorker,
        standing: Standing {
            on_team: true,
            directs: true,
        },
    }
}

fn visit(id: &str, (author, organisation): (&str, &str), status: VisitStatus) -> NewVisit {
    NewVisit {
        id: id.into(),
        at_ms: 1_700_000_000_000,
        author: author.into(),
        organisation: organisation.into(),
        kind: VisitKind::Home,
        present: vec!["m1".into()],
        observations: vec![
            (Theme::Housing, "Vochtig huis".into()),
            (Theme::Health, "Moe".into()),
        ],
        status,
    }
}

fn written(
    edit: impl FnOnce(&mut automerge::transaction::Transaction<'_>) -> Result<(), AutomergeError>,
) -> Automerge {
    let mut doc = Automerge::new().with_actor(ActorId::from(FIXTURE_ACTOR.as_slice()));
    doc.transact::<_, _, AutomergeError>(|tx| edit(tx))
        .map_err(|failure| failure.error)
        .expect("the fixture's writers write a valid record");
    doc
}

/// A general record with something for every rule: a member, visits by two
/// organisations (a draft, one returned with an answer, one approved), an
/// agreement, and an observation written as collaborative text (as JS
/// automerge writes strings) for marks and blocks to land on.
pub fn general() -> &'static Automerge {
    static DOC: OnceLock<Automerge> = OnceLock::new();
    DOC.get_or_init(|| {
        let [ada, bea, cor] = [PEOPLE[0], PEOPLE[1], PEOPLE[2]];
        written(|tx| {
            case::init_case(
                tx,
                &NewCase {
                    label: "Familie Ergens".into(),
                    address: "Kerkstraat 1".into(),
                    address_status: AddressStatus::Known,
                },
            )?;
            case::add_member(
                tx,
                "m1",
                "Jan Ergens",
                Some("2015-03-01"),
                MemberRole::Child,
            )?;
            case::add_visit(tx, &visit("v1", ada, VisitStatus::Submitted))?;
            case::review_visit(tx, "v1", ReviewStatus::Returned, bea.0, "Aanvullen", 1)?;
            case::answer_review(tx, "v1", "Aangevuld")?;
            case::add_visit(tx, &visit("v2", ada, VisitStatus::Submitted))?;
            case::review_visit(tx, "v2", ReviewStatus::Approved, bea.0, "Goed", 2)?;
            case::add_visit(tx, &visit("v3", cor, VisitStatus::Draft))?;
            case::add_agreement(tx, "a1", "Huisarts bellen", Some("v1"), Some("2024-01-31"))?;
            let visits = tx.get(ROOT, "visits")?.expect("written above").1;
            let v3 = tx.get(&visits, "v3")?.expect("written above").1;
            let observations = tx.get(&v3, "observations")?.expect("written above").1;
            let text = tx.put_object(&observations, "wellbeing", ObjType::Text)?;
            tx.splice_text(&text, 0, 0, "Rustig thuis")
        })
    })
}

/// A restricted record with one signal.
pub fn restricted() -> &'static Automerge {
    static DOC: OnceLock<Automerge> = OnceLock::new();
    DOC.get_or_init(|| {
        written(|tx| {
            case::init_restricted(tx)?;
            case::add_signal(
                tx,
                &NewSignal {
                    id: "s1".into(),
                    at_ms: 1_700_000_000_000,
                    author: PEOPLE[3].0.into(),
                    organisation: PEOPLE[3].1.into(),
                    kind: SignalKind::Police,
                    text: "Melding huiselijk geweld".into(),
                },
            )
        })
    })
}

/// The skeleton of a new case, as a tablet registers a household offline:
/// one change by [`TABLET_ACTOR`].
pub fn new_case() -> &'static Automerge {
    static DOC: OnceLock<Automerge> = OnceLock::new();
    DOC.get_or_init(make_new_case)
}

fn make_new_case() -> Automerge {
    let mut doc = Automerge::new().with_actor(ActorId::from(TABLET_ACTOR.as_slice()));
    doc.transact::<_, _, AutomergeError>(|tx| {
        case::init_case(
            tx,
            &NewCase {
                label: "Familie Nieuw".into(),
                address: String::new(),
                address_status: AddressStatus::Unknown,
            },
        )
    })
    .map_err(|failure| failure.error)
    .expect("init_case writes a valid record");
    doc
}

/// Whether the fixtures are what the targets assume: valid records.
pub fn check() {
    let record = case::CaseRecord::new(general());
    record.validate().expect("the general fixture validates");
    case::CaseRecord::new(restricted())
        .validate_restricted()
        .expect("the restricted fixture validates");
    assert!(general().get(ROOT, "household").ok().flatten().is_some());
}
