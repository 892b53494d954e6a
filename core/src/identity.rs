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
}

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
}
