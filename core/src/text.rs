//! Free text people type, as the API takes it: one rule for every field, so a
//! name, a reason and a note are checked the same way wherever they arrive.

/// What a field's text must be.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TextRule {
    /// At most this many characters, counted after trimming.
    pub max: usize,
    /// Empty (after trimming) is refused.
    pub required: bool,
    /// Line breaks and tabs are allowed (a reason, a note); other control
    /// characters never are.
    pub lines: bool,
}

impl TextRule {
    /// A required one-line text: a name, a label.
    pub const fn line(max: usize) -> Self {
        TextRule {
            max,
            required: true,
            lines: false,
        }
    }

    /// A required text that may span lines: a reason, a note.
    pub const fn paragraph(max: usize) -> Self {
        TextRule {
            max,
            required: true,
            lines: true,
        }
    }

    /// The same rule, but empty text is taken.
    pub const fn optional(self) -> Self {
        TextRule {
            required: false,
            ..self
        }
    }

    /// The text trimmed, or why it is refused.
    pub fn check(self, value: &str) -> Result<String, TextError> {
        let value = value.trim();
        let allowed = |c: char| self.lines && matches!(c, '\n' | '\r' | '\t');
        if self.required && value.is_empty() {
            Err(TextError::Missing)
        } else if !within(value, self.max) {
            Err(TextError::TooLong { max: self.max })
        } else if value.chars().any(|c| c.is_control() && !allowed(c)) {
            Err(TextError::ControlCharacters)
        } else {
            Ok(value.to_owned())
        }
    }
}

/// Whether `text` has at most `max` characters.
pub fn within(text: &str, max: usize) -> bool {
    // Bytes bound characters from above: most texts need no count.
    text.len() <= max || text.chars().count() <= max
}

/// Why a field's text was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum TextError {
    #[error("is required")]
    Missing,
    #[error("is longer than {max} characters")]
    TooLong { max: usize },
    #[error("may not contain control characters")]
    ControlCharacters,
}

impl TextError {
    /// The refusal as a sentence about the field, e.g. `reason is required`.
    pub fn about(self, field: &str) -> String {
        format!("{field} {self}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_is_trimmed_and_bounded_in_characters() {
        let rule = TextRule::line(5);
        assert_eq!(rule.check("  ëëëëë \t"), Ok("ëëëëë".to_owned()));
        assert_eq!(rule.check("ëëëëëë"), Err(TextError::TooLong { max: 5 }));
        assert_eq!(rule.check("   "), Err(TextError::Missing));
        assert_eq!(rule.optional().check(" "), Ok(String::new()));
        assert_eq!(rule.check("a\nb"), Err(TextError::ControlCharacters));
        let paragraph = TextRule::paragraph(9);
        assert_eq!(paragraph.check("a\r\n\tb"), Ok("a\r\n\tb".to_owned()));
        assert_eq!(
            paragraph.check("a\u{7}b"),
            Err(TextError::ControlCharacters)
        );
        assert_eq!(
            TextError::Missing.about("reason"),
            "reason is required".to_owned()
        );
    }
}
