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

/// Whether a person of `role` whose organisation is (or is not) on a case's
/// team may read the case's general record.
pub fn may_read_general_record(role: Role, organisation_on_team: bool) -> bool {
    role.works_on_cases() && organisation_on_team
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
