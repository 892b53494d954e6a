//! Every string the app shows, in Dutch (the default) and English. The table is
//! the only place text lives, so a screen cannot show an untranslated string.

use std::cell::Cell;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lang {
    Nl,
    En,
}

impl Lang {
    pub fn code(self) -> &'static str {
        match self {
            Lang::Nl => "nl",
            Lang::En => "en",
        }
    }
    pub fn other(self) -> Lang {
        match self {
            Lang::Nl => Lang::En,
            Lang::En => Lang::Nl,
        }
    }
}

thread_local! {
    static CURRENT: Cell<Lang> = const { Cell::new(Lang::Nl) };
}

pub fn set_lang(lang: Lang) {
    CURRENT.with(|c| c.set(lang));
}

macro_rules! texts {
    ($($key:ident => $nl:literal, $en:literal;)*) => {
        /// A translated text; [`T::get`] gives it in a language.
        #[derive(Debug, Clone, Copy, PartialEq, Eq)]
        #[allow(clippy::enum_variant_names)]
        pub enum T { $($key),* }

        impl T {
            pub fn get(self, lang: Lang) -> &'static str {
                match (self, lang) {
                    $((T::$key, Lang::Nl) => $nl, (T::$key, Lang::En) => $en,)*
                }
            }
        }
    };
}

impl T {
    /// In the language chosen now (read inside a reactive closure that also reads the
    /// language signal, so it re-renders on a switch).
    pub fn s(self) -> &'static str {
        self.get(CURRENT.with(Cell::get))
    }
}

texts! {
    AppName => "Veldwerk", "Veldwerk";
    Skip => "Naar de inhoud", "Skip to content";
    SwitchLanguage => "English", "Nederlands";
    Loading => "Laden…", "Loading…";
    // Enrolment and sign-in
    EnrollTitle => "Apparaat koppelen", "Set up this device";
    EnrollIntro => "Kies je gebruikersnaam en een naam voor deze tablet. Daarna maak je een passkey aan.", "Choose your user name and a name for this tablet. Then create a passkey.";
    Handle => "Gebruikersnaam", "User name";
    DeviceName => "Naam van deze tablet", "Name of this tablet";
    CreatePasskey => "Passkey aanmaken", "Create passkey";
    InviteMissing => "Deze koppellink is onvolledig. Vraag je beheerder om een nieuwe.", "This invite link is incomplete. Ask your administrator for a new one.";
    SignInTitle => "Aanmelden", "Sign in";
    SignInIntro => "Meld je aan met de passkey van deze tablet.", "Sign in with this tablet's passkey.";
    SignIn => "Aanmelden met passkey", "Sign in with passkey";
    SignInAgain => "Je sessie is verlopen. Meld je opnieuw aan om te synchroniseren; je werk blijft bewaard.", "Your session has ended. Sign in again to sync; your work is kept.";
    UnlockTitle => "Ontgrendelen", "Unlock";
    UnlockIntro => "De gegevens op deze tablet zijn versleuteld. Ontgrendel om verder te werken.", "The data on this tablet is encrypted. Unlock to continue.";
    UnlockPasskey => "Ontgrendelen met passkey", "Unlock with passkey";
    UnlockPin => "Ontgrendelen met pincode", "Unlock with PIN";
    Pin => "Pincode", "PIN";
    PinRepeat => "Pincode nogmaals", "PIN again";
    PinSetupTitle => "Pincode instellen", "Set a PIN";
    PinSetupIntro => "Je passkey kan de opslag niet ontgrendelen. Kies een pincode van minstens 6 cijfers om de gegevens op deze tablet te beveiligen.", "Your passkey cannot unlock the store. Choose a PIN of at least 6 digits to protect the data on this tablet.";
    PinTooShort => "De pincode moet minstens 6 cijfers hebben.", "The PIN must have at least 6 digits.";
    PinMismatch => "De pincodes zijn niet gelijk.", "The PINs do not match.";
    PinWrong => "Pincode onjuist.", "Wrong PIN.";
    SavePin => "Pincode opslaan", "Save PIN";
    Wiped => "Deze tablet is ingetrokken. Alle gegevens op deze tablet zijn gewist.", "This tablet was revoked. All data on this tablet has been wiped.";
    // Caseload
    Caseload => "Mijn gezinnen", "My families";
    Search => "Zoeken", "Search";
    SearchPlaceholder => "Zoek op naam of adres", "Search by name or address";
    SortLastVisit => "Sorteer op laatste bezoek", "Sort by last visit";
    SortName => "Sorteer op naam", "Sort by name";
    NoCases => "Nog geen gezinnen op deze tablet.", "No families on this tablet yet.";
    NewHousehold => "Nieuw gezin", "New household";
    LastVisit => "Laatste bezoek", "Last visit";
    NeverVisited => "Nog geen bezoek", "No visit yet";
    BadgeUnsynced => "niet gesynchroniseerd", "not synced";
    BadgeReturned => "teruggestuurd", "returned";
    BadgeConflict => "conflict", "conflict";
    NotYetLoaded => "wordt opgehaald", "being fetched";
    // Case
    Household => "Huishouden", "Household";
    Address => "Adres", "Address";
    AddressStatus => "Adresstatus", "Address status";
    StatusKnown => "bekend", "known";
    StatusMoved => "verhuisd", "moved";
    StatusUnknown => "onbekend", "unknown";
    Members => "Gezinsleden", "Members";
    NoMembers => "Geen gezinsleden vastgelegd.", "No members recorded.";
    AddMember => "Gezinslid toevoegen", "Add a member";
    MemberName => "Naam", "Name";
    NameRequired => "Vul een naam in.", "Fill in a name.";
    BirthDate => "Geboortedatum", "Birth date";
    MemberRole => "Plaats in het gezin", "Place in the household";
    RoleParent => "ouder", "parent";
    RoleChild => "kind", "child";
    RoleCarer => "verzorger", "carer";
    RoleOther => "anders", "other";
    Visits => "Bezoeken", "Visits";
    NoVisits => "Nog geen bezoeken.", "No visits yet.";
    Agreements => "Afspraken", "Agreements";
    NoAgreements => "Geen afspraken.", "No agreements.";
    RecordVisit => "Huisbezoek vastleggen", "Record a home visit";
    ChangeAddress => "Adres wijzigen", "Change address";
    Save => "Opslaan", "Save";
    Cancel => "Annuleren", "Cancel";
    Back => "Terug", "Back";
    Saved => "Opgeslagen op deze tablet", "Saved on this tablet";
    ConflictTitle => "Twee verschillende waarden", "Two different values";
    ConflictIntro => "Deze waarden zijn tegelijk ingevoerd. Kies de juiste, of pas er een aan.", "These values were entered at the same time. Choose the right one, or edit one.";
    WrittenBy => "ingevoerd door", "entered by";
    You => "jou, op deze tablet", "you, on this tablet";
    OtherDevice => "een ander apparaat", "another device";
    Choose => "Kiezen", "Choose";
    EditValue => "Aanpassen", "Edit";
    NewValue => "Nieuwe waarde", "New value";
    MyDevices => "Mijn apparaten", "My devices";
    MyDevicesIntro => "Elk apparaat waarmee je bent aangemeld. Kwijt? Trek het hier in: bij het volgende contact met de server wist het zichzelf.", "Every device you signed in with. Lost one? Revoke it here: at its next contact with the server it wipes itself.";
    DevicesOffline => "Je apparaten bekijken en intrekken kan alleen met een verbinding.", "Seeing and revoking your devices needs a connection.";
    ThisDevice => "deze tablet", "this tablet";
    Enrolled => "In gebruik sinds", "Enrolled";
    LastSeen => "laatst gezien", "last seen";
    Never => "nog nooit", "never";
    RevokedOn => "Ingetrokken op", "Revoked on";
    RevokeDevice => "Apparaat intrekken", "Revoke device";
    ConfirmRevoke => "Zeker? Tik nog eens: het apparaat wordt gewist", "Sure? Tap again: the device will be wiped";
    Yes => "ja", "yes";
    No => "nee", "no";
    AgreementText => "Afspraak", "Agreement";
    AgreementDue => "Afspraak · uiterlijk", "Agreement · due";
    AgreementDone => "Afspraak · nagekomen", "Agreement · done";
    ChangeMember => "Wijzigen", "Change";
    // Visits
    VisitDate => "Datum en tijd", "Date and time";
    VisitKind => "Soort contact", "Kind of contact";
    KindHome => "huisbezoek", "home visit";
    KindPhone => "telefonisch", "phone";
    KindOffice => "op kantoor", "at the office";
    KindSchool => "op school", "at school";
    KindOther => "anders", "other";
    Present => "Aanwezig", "Present";
    Observations => "Observaties", "Observations";
    ThemeHousing => "Wonen", "Housing";
    ThemeWorkIncome => "Werk en inkomen", "Work and income";
    ThemeEducation => "Onderwijs", "Education";
    ThemeHealth => "Gezondheid", "Health";
    ThemeSafety => "Veiligheid", "Safety";
    ThemeWellbeing => "Welzijn", "Wellbeing";
    FollowUp => "Vervolgafspraken", "Follow-up agreements";
    FollowUpPlaceholder => "Eén afspraak per regel", "One agreement per line";
    SaveDraft => "Opslaan als concept", "Save as draft";
    Submit => "Indienen ter beoordeling", "Submit for review";
    Draft => "concept", "draft";
    Submitted => "ingediend", "submitted";
    Approved => "goedgekeurd", "approved";
    Returned => "teruggestuurd", "returned";
    ReviewComment => "Opmerking van de beoordelaar", "Reviewer's comment";
    YourAnswer => "Jouw antwoord", "Your answer";
    AnswerAndResubmit => "Beantwoorden en opnieuw indienen", "Answer and submit again";
    EditVisit => "Bezoek bewerken", "Edit visit";
    NotEditable => "Goedgekeurd: dit bezoek kan niet meer worden gewijzigd.", "Approved: this visit can no longer be changed.";
    EmptyVisit => "Vul minstens één observatie in.", "Fill in at least one observation.";
    // New household
    NewHouseholdTitle => "Nieuw gezin registreren", "Register a new household";
    Label => "Naam van het gezin", "Family name";
    LabelRequired => "Geef het gezin een naam.", "Give the household a name.";
    MayNotCreate => "Je rol mag geen nieuwe gezinnen registreren.", "Your role may not register new households.";
    // Sync status
    Online => "Verbonden", "Connected";
    Offline => "Offline", "Offline";
    Connecting => "Verbinden…", "Connecting…";
    AllSynced => "Alles staat op de server", "Everything is on the server";
    PendingChanges => "wijzigingen nog niet op de server", "changes not yet on the server";
    PendingChange => "wijziging nog niet op de server", "change not yet on the server";
    LastSync => "Laatst gesynchroniseerd", "Last synced";
    NeverSynced => "nog nooit gesynchroniseerd", "never synced";
    Refused => "Door de server geweigerd", "Refused by the server";
    Dismiss => "Sluiten", "Dismiss";
    UpdateReady => "Er is een nieuwe versie. Herladen?", "A new version is available. Reload?";
    Reload => "Herladen", "Reload";
    // Review
    ReviewQueue => "Te beoordelen", "To review";
    NothingToReview => "Er wachten geen bezoeken op beoordeling.", "No visits are waiting for review.";
    Worker => "Medewerker", "Worker";
    AllWorkers => "Alle medewerkers", "All workers";
    FromDate => "Vanaf datum", "From date";
    Theme => "Thema", "Theme";
    AllThemes => "Alle thema's", "All themes";
    Resubmitted => "opnieuw ingediend", "submitted again";
    Approve => "Goedkeuren", "Approve";
    ReturnVisit => "Terugsturen", "Return";
    Comment => "Opmerking", "Comment";
    CommentRequired => "Schrijf bij het terugsturen wat er moet gebeuren.", "Say what needs to happen when returning a visit.";
    ChangedSinceReturn => "Gewijzigd sinds het terugsturen", "Changed since it was returned";
    Field => "Veld", "Field";
    Before => "Voor", "Before";
    After => "Na", "After";
    WorkerAnswer => "Antwoord van de medewerker", "The worker's answer";
    // Monitor
    Monitor => "Monitor", "Monitor";
    MonitorIntro => "Cijfers van de gezinnen die jouw gemeente regisseert, per kwartaal. Kleine aantallen worden niet getoond.", "Figures of the families your municipality directs, per quarter. Small counts are not shown.";
    Year => "Jaar", "Year";
    Activity => "Bezoeken en huishoudens", "Visits and households";
    Quarter => "Kwartaal", "Quarter";
    Households => "Huishoudens bezocht", "Households visited";
    ReturnedVisits => "Teruggestuurd", "Returned";
    Total => "Totaal", "Total";
    ObservationsByTheme => "Observaties per thema", "Observations by theme";
    SuppressionNote => "<5: minder dan 5, of verborgen zodat een klein aantal niet uit de totalen is af te leiden.", "<5: fewer than 5, or hidden so that a small count cannot be worked out from the totals.";
    DownloadCsv => "Download als CSV", "Download as CSV";
    VisitsPerQuarter => "Bezoeken per kwartaal (gearceerd: minder dan 5 of verborgen)", "Visits per quarter (hatched: fewer than 5 or hidden)";
    // Radar
    Radar => "Radar", "Radar";
    RadarIntro => "Gezinnen van jouw gemeente die uit beeld dreigen te raken.", "Families of your municipality that are slipping off the radar.";
    RadarEmpty => "Er zijn geen gezinnen uit beeld.", "No families are off the radar.";
    DaysWithoutVisit => "dagen zonder bezoek", "days without a visit";
    AddressMoved => "verhuisd", "moved";
    AddressUnknown => "adres onbekend", "address unknown";
    ReturnedNotApproved => "teruggestuurd bezoek, nog niet goedgekeurd", "returned visit, not yet approved";
    RadarDays => "Op de radar na zoveel dagen zonder bezoek", "On the radar after this many days without a visit";
    DaysInvalid => "Vul een aantal dagen in (1 tot 730).", "Fill in a number of days (1 to 730).";
    HandoverPendingTo => "overdracht gevraagd aan", "handover asked of";
    AwaitingDirection => "Nieuwe huishoudens zonder regie", "New households awaiting direction";
    RegisteredByOrg => "aangemeld door", "registered by";
    TakeDirection => "Regie nemen", "Take direction";
    IncomingHandoversWaiting => "overdrachtsverzoek(en) wachten op jouw antwoord", "handover request(s) await your answer";
    // Direction and handovers
    Handovers => "Overdrachten", "Handovers";
    HandoversIn => "Overgenomen van andere gemeenten", "Taken over from other municipalities";
    HandoversOut => "Overgedragen aan andere gemeenten", "Handed over to other municipalities";
    HandoversIntro => "Verzoeken van en aan andere gemeenten om de regie over een gezin over te nemen.", "Requests from and to other municipalities to take over direction of a family.";
    NoHandovers => "Er zijn geen overdrachten.", "There are no handovers.";
    Incoming => "Binnengekomen", "Incoming";
    Outgoing => "Verstuurd", "Outgoing";
    From => "Van", "From";
    To => "Aan", "To";
    Reason => "Reden", "Reason";
    RequestedBy => "Gevraagd door", "Asked by";
    Accept => "Overnemen", "Accept";
    Refuse => "Weigeren", "Refuse";
    RefuseReason => "Reden van weigeren", "Reason for refusing";
    RefuseReasonRequired => "Schrijf waarom je het verzoek weigert.", "Say why you refuse the request.";
    Withdraw => "Verzoek intrekken", "Withdraw request";
    StatusRequested => "wacht op antwoord", "awaiting an answer";
    StatusAccepted => "overgenomen", "accepted";
    StatusRefused => "geweigerd", "refused";
    StatusWithdrawn => "ingetrokken", "withdrawn";
    DecidedBy => "besloten door", "decided by";
    Direction => "Regie", "Direction";
    DirectionOnline => "Regie, team, overdracht en koppelingen hebben een verbinding nodig.", "Direction, team, handover and links need a connection.";
    Team => "Team", "Team";
    AddToTeam => "Organisatie toevoegen aan het team", "Add an organisation to the team";
    Add => "Toevoegen", "Add";
    Remove => "Verwijderen", "Remove";
    HandOver => "Overdragen aan een andere gemeente", "Hand over to another municipality";
    Municipality => "Gemeente", "Municipality";
    AskHandover => "Overdracht vragen", "Ask for handover";
    HandoverAsked => "Overdracht gevraagd aan", "Handover asked of";
    Trail => "Verloop van de regie", "Trail of direction";
    Links => "Gekoppelde huishoudens", "Linked households";
    LinksIntro => "Alleen zichtbaar voor regisseurs. Een koppeling rust op gedrag, nooit op afkomst.", "Visible to case directors only. A link rests on behaviour, never on origin.";
    NoLinks => "Geen gekoppelde huishoudens.", "No linked households.";
    LinkHousehold => "Huishouden koppelen", "Link a household";
    OtherHousehold => "Ander huishouden", "Other household";
    Basis => "Grond", "Basis";
    BasisSameAddress => "zelfde adres", "same address";
    BasisMemberMovedIn => "gezinslid ingetrokken", "a family member moved in";
    BasisSharedCare => "zorg voor kinderen in beide huishoudens", "children cared for in both households";
    BasisOther => "ander gedrag (beschrijf)", "other behaviour (describe)";
    LinkNote => "Wat is er gezien?", "What was seen?";
    PickOne => "Kies…", "Choose…";
    DirectedBy => "huishouden onder regie van", "household directed by";
    // Signals
    Signals => "Signalen", "Signals";
    SignalsIntro => "Meld dat jouw organisatie betrokken is bij een persoon. Heeft een andere organisatie dezelfde persoon gemeld, dan krijgen jullie allebei elkaars contactgegevens, niets uit het dossier. Het BSN of de naam wordt niet bewaard, alleen een code waaruit ze niet terug te halen zijn.", "Register that your organisation is involved with a person. If another organisation registered the same person, you both get each other's contact details, nothing from the case record. The BSN or name is not kept, only a code they cannot be recovered from.";
    SignalsOffline => "Signalen werken alleen met verbinding met de server. Je bent offline: melden en bekijken kan weer zodra er verbinding is.", "Signals need a connection to the server. You are offline: registering and viewing work again once you are connected.";
    WhoIsItAbout => "Over wie gaat het?", "Who is it about?";
    ByBsn => "Met BSN", "By BSN";
    ByNameAndBirthDate => "Naam en geboortedatum", "Name and birth date";
    Bsn => "BSN", "BSN";
    FullName => "Volledige naam", "Full name";
    YourContact => "Jouw contactgegevens voor de andere organisatie", "Your contact details for the other organisation";
    ContactName => "Naam (leeg: je gebruikersnaam)", "Name (empty: your user name)";
    Phone => "Telefoon", "Phone";
    Email => "E-mail", "E-mail";
    OwnReference => "Eigen kenmerk", "Own reference";
    OwnReferenceHint => "Alleen zichtbaar voor jouw organisatie, bijvoorbeeld je dossiernummer. Geen BSN of naam.", "Visible to your organisation only, for instance your file number. No BSN or name.";
    Register => "Melden", "Register";
    BsnLength => "Een BSN heeft 9 cijfers (of 8, dan met een 0 ervoor).", "A BSN has 9 digits (or 8, then with a leading 0).";
    BsnElevenTest => "Dit is geen geldig BSN: het voldoet niet aan de elfproef. Controleer het nummer.", "This is not a valid BSN: it fails the eleven test. Check the number.";
    SubjectMissing => "Vul een BSN in, of een naam en geboortedatum.", "Fill in a BSN, or a name and birth date.";
    SubjectName => "Vul een naam in van minstens twee letters.", "Fill in a name of at least two letters.";
    SubjectBirthDate => "Vul een bestaande geboortedatum in.", "Fill in a real birth date.";
    ContactRequired => "Vul een telefoonnummer of e-mailadres in, zodat de andere organisatie je kan bereiken.", "Fill in a phone number or e-mail address, so the other organisation can reach you.";
    SignalMatched => "Gemeld. Een andere organisatie heeft deze persoon ook gemeld: zie de match hieronder.", "Registered. Another organisation registered this person too: see the match below.";
    SignalRefreshed => "Je organisatie had deze persoon al gemeld; de melding is verlengd. Nog geen match.", "Your organisation had registered this person already; the signal is renewed. No match yet.";
    SignalNoMatch => "Gemeld. Geen andere organisatie heeft deze persoon gemeld; je hoort het als dat gebeurt.", "Registered. No other organisation has registered this person; you will see it here when one does.";
    OwnSignals => "Signalen van jouw organisatie", "Your organisation's signals";
    NoSignals => "Jouw organisatie heeft geen signalen.", "Your organisation has no signals.";
    Signal => "Signaal", "Signal";
    NoReference => "zonder kenmerk", "without reference";
    RegisteredBy => "gemeld door", "registered by";
    On => "op", "on";
    ActiveUntil => "actief tot", "active until";
    NoLongerActive => "niet meer actief (geeft geen nieuwe match)", "no longer active (makes no new match)";
    VisibleUntil => "zichtbaar tot", "visible until";
    NoMatches => "Geen match.", "No match.";
    WithdrawSignal => "Signaal intrekken", "Withdraw signal";
    NewSignalFrom => "Nieuw signaal van", "New signal from";
    RestrictedRecord => "Beperkt dossier: politie en justitie", "Restricted record: police and justice";
    RestrictedIntro => "Alleen voor de regisseur van de gemeente, de politie en het OM. De andere organisaties in het team zien dit deel niet.", "Only for the municipality's case director, the police and the prosecutor. The other organisations on the team do not see this part.";
    RestrictedLoading => "Het beperkte dossier wordt opgehaald…", "Fetching the restricted record…";
    NoRestrictedSignals => "Nog geen signalen van politie of justitie.", "No signals from the police or justice yet.";
    AddRestrictedSignal => "Signaal toevoegen", "Add a signal";
    SignalKindLabel => "Soort signaal", "Kind of signal";
    SignalKindPolice => "Politie", "Police";
    SignalKindJustice => "Justitie", "Justice";
    SignalKindMinor => "Minderjarige betrokken bij criminaliteit", "Minor involved in crime";
    SignalTextLabel => "Wat is er bekend?", "What is known?";
    SignalTextRequired => "Schrijf op wat er bekend is.", "Write down what is known.";
    SignalSaved => "Opgeslagen op deze tablet. Het gaat mee bij de volgende synchronisatie.", "Saved on this tablet. It goes along at the next sync.";
    ConfirmWithdrawSignal => "Zeker? Tik nog eens om in te trekken", "Sure? Tap again to withdraw";
    SignalWithdrawn => "Signaal ingetrokken. De andere organisaties zien de match niet meer.", "Signal withdrawn. The other organisations no longer see the match.";
    Matches => "Matches", "Matches";
    MatchedOn => "match op", "matched on";
    // Case summary
    CaseSummary => "Samenvatting", "Summary";
    SummaryLink => "Samenvatting voor het casusoverleg", "Summary for a case conference";
    PrintedBy => "Afgedrukt door", "Printed by";
    Confidential => "Vertrouwelijk: alleen voor de deelnemers aan het casusoverleg.", "Confidential: for the participants of the case conference only.";
    Print => "Afdrukken", "Print";
    // History
    History => "Geschiedenis", "History";
    ShowHistory => "Geschiedenis tonen", "Show history";
    HideHistory => "Geschiedenis verbergen", "Hide history";
    Visit => "Bezoek", "Visit";
    Removed => "verwijderd", "removed";
    ConflictSettled => "conflict beslecht", "conflict settled";
    // Menu
    Lock => "Vergrendelen", "Lock";
    SignOut => "Afmelden", "Sign out";
    SignOutPending => "Deze tablet is afgemeld, maar de server was niet bereikbaar. Je sessie op de server wordt beëindigd zodra er weer verbinding is.", "This tablet is signed out, but the server could not be reached. Your session on the server is ended as soon as there is a connection again.";
    ClearData => "Gegevens van deze tablet wissen", "Clear this tablet's data";
    UnsyncedWarning => "Let op: er zijn wijzigingen die nog niet op de server staan. Als je doorgaat, gaan ze verloren.", "Warning: some changes have not reached the server yet. If you continue, they are lost.";
    SignOutWarning => "Let op: er zijn wijzigingen die nog niet op de server staan. Na afmelden worden ze pas verstuurd als je weer aanmeldt.", "Warning: some changes have not reached the server yet. After signing out they are sent only when you sign in again.";
    ContinueAnyway => "Toch doorgaan", "Continue anyway";
    SignedInAs => "Aangemeld als", "Signed in as";
    Error => "Er ging iets mis", "Something went wrong";
}
