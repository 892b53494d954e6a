//! Who a signal in the signal index is about, in one canonical form: a citizen
//! service number (BSN) that passes the eleven test, or a name with a birth
//! date, normalised so that differences in case, spacing, word order and
//! diacritics do not hide a match. The server turns the canonical form into a
//! keyed hash and stores only that; the tablet uses the same checks to tell a
//! worker about a mistyped BSN before anything is sent.

use unicode_normalization::UnicodeNormalization;

use crate::calendar::Date;

/// Why an identifier cannot name a person in the signal index.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SubjectError {
    #[error("a BSN has 9 digits (or 8, read with a leading zero)")]
    BsnLength,
    #[error("this is not a valid BSN: it fails the eleven test (elfproef)")]
    BsnElevenTest,
    #[error("give a BSN, or a name and a birth date, not both")]
    Ambiguous,
    #[error("give a BSN, or a name and a birth date")]
    Missing,
    #[error("the name must have at least two letters")]
    Name,
    #[error("the birth date must be a real date written as YYYY-MM-DD")]
    BirthDate,
}

/// A citizen service number that passed the eleven test: 9 digits.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Bsn(String);

impl Bsn {
    /// Reads a BSN as people write it: spaces, dots and dashes between the
    /// digits are ignored, and an 8-digit number gets its leading zero back.
    pub fn parse(input: &str) -> Result<Bsn, SubjectError> {
        let mut digits = String::with_capacity(9);
        for c in input.chars() {
            match c {
                '0'..='9' => digits.push(c),
                ' ' | '.' | '-' | '\u{a0}' => {}
                _ => return Err(SubjectError::BsnLength),
            }
        }
        if digits.len() == 8 {
            digits.insert(0, '0');
        }
        if digits.len() != 9 {
            return Err(SubjectError::BsnLength);
        }
        let d: Vec<i64> = digits.bytes().map(|b| i64::from(b - b'0')).collect();
        // The eleven test: 9·d1 + 8·d2 + … + 2·d8 − 1·d9 is a multiple of 11.
        let sum: i64 = d[..8]
            .iter()
            .zip((2..=9).rev())
            .map(|(digit, weight)| digit * weight)
            .sum::<i64>()
            - d[8];
        if sum % 11 != 0 || d.iter().all(|&x| x == 0) {
            return Err(SubjectError::BsnElevenTest);
        }
        Ok(Bsn(digits))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A birth date: a calendar date from 1900 to 2199.
fn parse_birth_date(input: &str) -> Result<Date, SubjectError> {
    Date::parse_iso(input.trim())
        .filter(|d| (1900..2200).contains(&d.year()))
        .ok_or(SubjectError::BirthDate)
}

/// The person a signal is about.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Subject {
    Bsn(Bsn),
    /// The normalised name (see [`normalise_name`]) and the birth date.
    NameAndBirthDate(String, Date),
}

impl Subject {
    /// From what a professional typed: a BSN, or a name and a birth date.
    /// Empty strings count as not given.
    pub fn from_input(
        bsn: Option<&str>,
        name: Option<&str>,
        birth_date: Option<&str>,
    ) -> Result<Subject, SubjectError> {
        fn given(s: Option<&str>) -> Option<&str> {
            s.map(str::trim).filter(|s| !s.is_empty())
        }
        match (given(bsn), given(name), given(birth_date)) {
            (Some(bsn), None, None) => Ok(Subject::Bsn(Bsn::parse(bsn)?)),
            (Some(_), _, _) => Err(SubjectError::Ambiguous),
            (None, Some(name), Some(date)) => Ok(Subject::NameAndBirthDate(
                normalise_name(name)?,
                parse_birth_date(date)?,
            )),
            (None, Some(_), None) => Err(SubjectError::BirthDate),
            (None, None, Some(_)) => Err(SubjectError::Name),
            (None, None, None) => Err(SubjectError::Missing),
        }
    }

    /// `bsn` or `name`: which kind of identifier, never the identifier.
    pub fn kind(&self) -> &'static str {
        match self {
            Subject::Bsn(_) => "bsn",
            Subject::NameAndBirthDate(..) => "name",
        }
    }

    /// The one string both organisations arrive at for the same person; the
    /// input of the keyed hash. Distinct kinds can never produce the same text.
    pub fn canonical(&self) -> String {
        match self {
            Subject::Bsn(bsn) => format!("bsn:{}", bsn.as_str()),
            Subject::NameAndBirthDate(name, date) => format!("name:{date}:{name}"),
        }
    }
}

/// A name reduced to what identifies it: lower case, diacritics removed
/// (é → e, ø → o, ß → ss), apostrophes dropped, hyphens and punctuation read
/// as spaces, and the words sorted, so "Jan de Vries", "de vries,  Jan" and
/// "JAN DE VRIËS" are one name.
pub fn normalise_name(input: &str) -> Result<String, SubjectError> {
    let mut folded = String::with_capacity(input.len());
    for c in input.nfkd() {
        if unicode_normalization::char::is_combining_mark(c) {
            continue;
        }
        for c in c.to_lowercase() {
            match c {
                c if unicode_normalization::char::is_combining_mark(c) => {}
                'ø' => folded.push('o'),
                'ß' => folded.push_str("ss"),
                'æ' => folded.push_str("ae"),
                'œ' => folded.push_str("oe"),
                'ł' => folded.push('l'),
                'đ' | 'ð' => folded.push('d'),
                'þ' => folded.push_str("th"),
                'ı' => folded.push('i'),
                '\'' | '’' | '‘' | '`' | '´' => {}
                c if c.is_alphanumeric() => folded.push(c),
                _ => folded.push(' '),
            }
        }
    }
    let mut words: Vec<&str> = folded.split_whitespace().collect();
    if words.iter().map(|w| w.chars().count()).sum::<usize>() < 2 {
        return Err(SubjectError::Name);
    }
    words.sort_unstable();
    Ok(words.join(" "))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_eleven_test_accepts_valid_numbers_as_written() {
        assert_eq!(Bsn::parse("123456782").unwrap().as_str(), "123456782");
        assert_eq!(Bsn::parse("1234.56.782").unwrap().as_str(), "123456782");
        assert_eq!(Bsn::parse(" 111 222 333 ").unwrap().as_str(), "111222333");
        // Eight digits: a leading zero was dropped.
        assert_eq!(Bsn::parse("12345672").unwrap().as_str(), "012345672");
    }

    #[test]
    fn the_eleven_test_refuses_mistyped_numbers() {
        assert_eq!(Bsn::parse("123456781"), Err(SubjectError::BsnElevenTest));
        assert_eq!(Bsn::parse("123456728"), Err(SubjectError::BsnElevenTest));
        assert_eq!(Bsn::parse("000000000"), Err(SubjectError::BsnElevenTest));
        assert_eq!(Bsn::parse("12345"), Err(SubjectError::BsnLength));
        assert_eq!(Bsn::parse("1234567820"), Err(SubjectError::BsnLength));
        assert_eq!(Bsn::parse("12345678x"), Err(SubjectError::BsnLength));
        assert!(
            SubjectError::BsnElevenTest.to_string().contains("elfproef"),
            "the message names the check people know"
        );
    }

    #[test]
    fn birth_dates_must_exist() {
        assert_eq!(
            parse_birth_date("2012-02-29").unwrap().to_string(),
            "2012-02-29"
        );
        assert!(parse_birth_date("2013-02-29").is_err());
        assert!(parse_birth_date("2000-13-01").is_err());
        assert!(parse_birth_date("2000-04-31").is_err());
        assert!(parse_birth_date("01-02-2000").is_err());
        assert!(parse_birth_date("2000-1-01").is_err());
        assert!(parse_birth_date("+200-01-01").is_err());
    }

    #[test]
    fn names_differing_in_case_spacing_order_and_diacritics_are_one() {
        let canonical = normalise_name("Jan de Vries").unwrap();
        assert_eq!(canonical, "de jan vries");
        for same in [
            "  JAN   de VRIES ",
            "de Vries, Jan",
            "Ján de Vriës",
            "jan\tde\u{a0}vries",
        ] {
            assert_eq!(normalise_name(same).unwrap(), canonical, "{same:?}");
        }
        assert_eq!(
            normalise_name("Zoë O'Brien-Ørsted").unwrap(),
            "obrien orsted zoe"
        );
        assert_eq!(normalise_name("Strauß").unwrap(), "strauss");
        assert_eq!(normalise_name(" - "), Err(SubjectError::Name));
        assert_ne!(
            normalise_name("Jan de Vries").unwrap(),
            normalise_name("Jan Vries").unwrap()
        );
    }

    #[test]
    fn a_subject_is_a_bsn_or_a_name_with_a_birth_date() {
        let bsn = Subject::from_input(Some("123456782"), Some(""), None).unwrap();
        assert_eq!(bsn.canonical(), "bsn:123456782");
        assert_eq!(bsn.kind(), "bsn");
        let named = Subject::from_input(None, Some("Jan de Vries"), Some("2010-03-04")).unwrap();
        assert_eq!(named.canonical(), "name:2010-03-04:de jan vries");
        assert_eq!(
            Subject::from_input(Some("123456782"), Some("Jan"), Some("2010-03-04")),
            Err(SubjectError::Ambiguous)
        );
        assert_eq!(
            Subject::from_input(None, Some("Jan"), None),
            Err(SubjectError::BirthDate)
        );
        assert_eq!(
            Subject::from_input(None, None, None),
            Err(SubjectError::Missing)
        );
        assert_eq!(
            Subject::from_input(Some("123456781"), None, None),
            Err(SubjectError::BsnElevenTest)
        );
    }
}
