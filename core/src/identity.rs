//! Organisations, roles and who may read or create what. The rules are here,
//! in `core`, so the tablet app refuses what the server would refuse; the
//! server enforces them on every message and call.

pub use crate::names::UnknownName;
use crate::names::wire_enum;

wire_enum!(
    /// The kind of a chain partner.
    OrganisationKind, "organisation kind" {
        Municipality = "municipality",
        YouthCare = "youth_care",
        Police = "police",
        Prosecutor = "prosecutor",
        ChildProtection = "child_protection",
        School = "school",
        Housing = "housing",
        SocialWork = "social_work",
        Other = "other",
    }
);

wire_enum!(
    /// What a person does in Veldwerk.
    Role, "role" {
        FieldWorker = "field_worker",
        Supervisor = "supervisor",
        CaseDirector = "case_director",
        Admin = "admin",
        Auditor = "auditor",
    }
);

impl Role {
    /// Roles that work with case content. Admins manage people and
    /// organisations and auditors read the audit log; neither reads cases.
    pub fn works_on_cases(self) -> bool {
        matches!(
            self,
            Role::FieldWorker | Role::Supervisor | Role::CaseDirector
        )
    }

    /// Who may register a new household, online or while offline.
    pub fn may_create_cases(self) -> bool {
        self.works_on_cases()
    }

    /// Who has a caseload to list, and the organisations to hand a case to.
    pub fn has_caseload(self) -> bool {
        self.works_on_cases()
    }

    /// Who registers people in the signal index and reads its matches: the
    /// professionals who work with families.
    pub fn may_use_signal_index(self) -> bool {
        self.works_on_cases()
    }

    /// Who sees the changes the server refused to merge: admins, who look
    /// after devices and would see a device sending what breaks the rules.
    pub fn may_read_quarantine(self) -> bool {
        self == Role::Admin
    }

    /// Who invites new people: admins.
    pub fn may_invite(self) -> bool {
        self == Role::Admin
    }

    /// Who reads the audit log: auditors, and nobody else; not even admins,
    /// whose own actions it records.
    pub fn may_read_audit_log(self) -> bool {
        self == Role::Auditor
    }
}

wire_enum!(
    /// Where a request to hand a case over to another municipality stands.
    HandoverStatus, "handover status" {
        /// Asked for, not yet decided.
        Requested = "requested",
        Accepted = "accepted",
        Refused = "refused",
        Withdrawn = "withdrawn",
    }
);

wire_enum!(
    /// The parts of a case record, each its own document with its own readers.
    Compartment, "compartment" {
        /// Household, members, visits, agreements: for the whole team.
        General = "general",
        /// Police and justice signals, minors' involvement in crime: for the
        /// case director and police or prosecutor on the team only.
        Restricted = "restricted",
    }
);

wire_enum!(
    /// Why a case director links two households: something the people in them
    /// do or did, never who they are or where they come from. There is no
    /// basis for origin, and there never will be.
    LinkBasis, "link basis" {
        /// Both households live at the same address.
        SameAddress = "same_address",
        /// A member of one household moved in with the other.
        MemberMovedIn = "member_moved_in",
        /// Children are cared for in both households.
        SharedCare = "shared_care",
        /// Another behaviour, described in the link's note (required).
        Other = "other",
    }
);

/// Whether a person of `role` whose organisation is (or is not) on a case's
/// team may read the case's general record.
pub fn may_read_general_record(role: Role, organisation_on_team: bool) -> bool {
    role.works_on_cases() && organisation_on_team
}

/// Where a person's organisation stands to a case.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Standing {
    /// The organisation is on the case's team.
    pub on_team: bool,
    /// The organisation is the municipality directing the case.
    pub directs: bool,
}

/// Whether a person may read (and, within the write rules, write) a
/// compartment of a case. Admins and auditors never read case content. The
/// restricted record is for the case director of the directing municipality
/// and for police and prosecutor on the team.
pub fn may_read(
    role: Role,
    kind: OrganisationKind,
    standing: Standing,
    compartment: Compartment,
) -> bool {
    match compartment {
        Compartment::General => may_read_general_record(role, standing.on_team),
        Compartment::Restricted => {
            standing.on_team
                && ((role == Role::CaseDirector && standing.directs)
                    || (role.works_on_cases()
                        && matches!(
                            kind,
                            OrganisationKind::Police | OrganisationKind::Prosecutor
                        )))
        }
    }
}

/// Whether a person directs cases for their organisation: a case director of
/// a municipality. Handovers, taking direction of a partner's registration
/// and links between households are theirs.
pub fn directs_cases(role: Role, kind: OrganisationKind) -> bool {
    role == Role::CaseDirector && kind == OrganisationKind::Municipality
}

/// Whether a person may act as the director of one case (its handovers,
/// trail and links): a case director of the municipality directing it.
pub fn may_direct_case(role: Role, kind: OrganisationKind, standing: Standing) -> bool {
    directs_cases(role, kind) && standing.on_team && standing.directs
}

/// Whether a person reads the radar and the monitor of their municipality:
/// those who direct its cases.
pub fn may_oversee(role: Role, kind: OrganisationKind) -> bool {
    directs_cases(role, kind)
}

/// Whether a person may add organisations to a case's team or remove them:
/// the case director of the organisation directing the case.
pub fn may_change_team(role: Role, standing: Standing) -> bool {
    role == Role::CaseDirector && standing.directs
}

/// Whether a person of `role` may revoke a device: their own
/// (`own_device`), anyone's as an admin, or a colleague's as a supervisor of
/// the same organisation (`same_organisation`).
pub fn may_revoke_device(role: Role, own_device: bool, same_organisation: bool) -> bool {
    own_device || role == Role::Admin || (role == Role::Supervisor && same_organisation)
}

/// Which municipality of a handover request an organisation is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HandoverParty {
    /// The municipality that asked to hand the case over.
    Sending,
    /// The municipality asked to take it.
    Receiving,
}

/// What can be decided about an open handover request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HandoverStep {
    Accept,
    Refuse,
    Withdraw,
}

/// Whether a party may take a step on an open handover: the receiving
/// municipality accepts or refuses, the sending one may withdraw.
pub fn may_decide_handover(party: HandoverParty, step: HandoverStep) -> bool {
    match step {
        HandoverStep::Accept | HandoverStep::Refuse => party == HandoverParty::Receiving,
        HandoverStep::Withdraw => party == HandoverParty::Sending,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_unknown_names_list_the_choices() {
        for role in Role::ALL {
            assert_eq!(role.as_str().parse::<Role>().unwrap(), *role);
        }
        for kind in OrganisationKind::ALL {
            assert_eq!(kind.as_str().parse::<OrganisationKind>().unwrap(), *kind);
        }
        let err = "boss".parse::<Role>().unwrap_err().to_string();
        assert!(err.contains("field_worker, supervisor"), "{err}");
    }

    #[test]
    fn the_restricted_record_is_for_the_case_director_police_and_prosecutor() {
        use OrganisationKind::*;
        let directing = Standing {
            on_team: true,
            directs: true,
        };
        let partner = Standing {
            on_team: true,
            directs: false,
        };
        let restricted = |role, kind| may_read(role, kind, directing, Compartment::Restricted);
        assert!(!may_read(
            Role::CaseDirector,
            YouthCare,
            partner,
            Compartment::Restricted
        ));
        assert!(may_read(
            Role::FieldWorker,
            Police,
            partner,
            Compartment::Restricted
        ));
        assert!(restricted(Role::CaseDirector, Municipality));
        assert!(restricted(Role::FieldWorker, Police));
        assert!(restricted(Role::Supervisor, Prosecutor));
        assert!(!restricted(Role::FieldWorker, Municipality));
        assert!(!restricted(Role::FieldWorker, YouthCare));
        assert!(!restricted(Role::Admin, Police));
        assert!(!may_read(
            Role::CaseDirector,
            Municipality,
            Standing::default(),
            Compartment::Restricted
        ));
    }

    #[test]
    fn only_case_roles_on_the_team_read_the_general_record() {
        for role in Role::ALL {
            assert!(!may_read_general_record(*role, false));
        }
        assert!(may_read_general_record(Role::FieldWorker, true));
        assert!(may_read_general_record(Role::CaseDirector, true));
        assert!(!may_read_general_record(Role::Admin, true));
        assert!(!may_read_general_record(Role::Auditor, true));
    }

    /// Role × action, for what a role may do wherever its organisation stands.
    #[test]
    fn what_each_role_may_do() {
        use Role::*;
        type Rule = fn(Role) -> bool;
        let actions: [(&str, Rule); 6] = [
            ("create cases", Role::may_create_cases),
            ("list a caseload", Role::has_caseload),
            ("use the signal index", Role::may_use_signal_index),
            ("read the quarantine", Role::may_read_quarantine),
            ("invite people", Role::may_invite),
            ("read the audit log", Role::may_read_audit_log),
        ];
        let table: [(Role, [bool; 6]); 5] = [
            (FieldWorker, [true, true, true, false, false, false]),
            (Supervisor, [true, true, true, false, false, false]),
            (CaseDirector, [true, true, true, false, false, false]),
            (Admin, [false, false, false, true, true, false]),
            (Auditor, [false, false, false, false, false, true]),
        ];
        assert_eq!(table.len(), Role::ALL.len());
        for (role, allowed) in table {
            for ((action, rule), allowed) in actions.iter().zip(allowed) {
                assert_eq!(rule(role), allowed, "{role} may {action}: {allowed}");
            }
        }
    }

    /// Role × organisation kind, for directing cases, the radar and the monitor.
    #[test]
    fn only_case_directors_of_municipalities_direct_and_oversee() {
        for role in Role::ALL {
            for kind in OrganisationKind::ALL {
                let expected =
                    *role == Role::CaseDirector && *kind == OrganisationKind::Municipality;
                assert_eq!(directs_cases(*role, *kind), expected, "{role} of {kind}");
                assert_eq!(may_oversee(*role, *kind), expected, "{role} of {kind}");
            }
        }
    }

    #[test]
    fn a_case_is_directed_by_the_case_director_of_its_directing_municipality() {
        use OrganisationKind::*;
        let directing = Standing {
            on_team: true,
            directs: true,
        };
        let partner = Standing {
            on_team: true,
            directs: false,
        };
        assert!(may_direct_case(Role::CaseDirector, Municipality, directing));
        assert!(!may_direct_case(Role::CaseDirector, Municipality, partner));
        assert!(!may_direct_case(
            Role::CaseDirector,
            Municipality,
            Standing::default()
        ));
        assert!(!may_direct_case(Role::CaseDirector, YouthCare, directing));
        assert!(!may_direct_case(Role::Supervisor, Municipality, directing));

        for role in Role::ALL {
            let expected = *role == Role::CaseDirector;
            assert_eq!(may_change_team(*role, directing), expected, "{role}");
            assert!(!may_change_team(*role, partner), "{role}");
        }
    }

    /// Role × whose device: one's own, a colleague's, someone elsewhere's.
    #[test]
    fn who_may_revoke_whose_device() {
        use Role::*;
        let table: [(Role, [bool; 3]); 5] = [
            (FieldWorker, [true, false, false]),
            (Supervisor, [true, true, false]),
            (CaseDirector, [true, false, false]),
            (Admin, [true, true, true]),
            (Auditor, [true, false, false]),
        ];
        let whose = [
            ("own", true, true),
            ("colleague's", false, true),
            ("other's", false, false),
        ];
        for (role, allowed) in table {
            for ((device, own, same_organisation), allowed) in whose.iter().zip(allowed) {
                assert_eq!(
                    may_revoke_device(role, *own, *same_organisation),
                    allowed,
                    "{role} revoking an {device} device"
                );
            }
        }
    }

    /// Party × step of a handover.
    #[test]
    fn the_receiver_answers_a_handover_and_the_sender_withdraws_it() {
        use HandoverParty::*;
        use HandoverStep::*;
        for (party, step, allowed) in [
            (Receiving, Accept, true),
            (Receiving, Refuse, true),
            (Receiving, Withdraw, false),
            (Sending, Accept, false),
            (Sending, Refuse, false),
            (Sending, Withdraw, true),
        ] {
            assert_eq!(
                may_decide_handover(party, step),
                allowed,
                "{party:?} {step:?}"
            );
        }
    }
}
