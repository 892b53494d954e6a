//! `CaseRecord`: reads a case record's values through typed readers that
//! check every value they touch, concurrent losers included, and name the
//! path of whatever breaks the schema. The validator, the projection, the
//! view and the restricted record all read through these.

use automerge::{ObjId, ObjType, ROOT, ReadDoc, ScalarValue, Value};

use super::schema::{MAX_FREE_TEXT, MAX_SHORT_TEXT, SchemaError, check_len, join};

/// Reads a case record, checking every value it touches.
pub struct CaseRecord<'a, D: ReadDoc> {
    pub(super) doc: &'a D,
}

impl<'a, D: ReadDoc> CaseRecord<'a, D> {
    pub fn new(doc: &'a D) -> Self {
        Self { doc }
    }

    /// The ids of the visits in the record.
    pub fn visit_ids(&self) -> Result<Vec<String>, SchemaError> {
        let visits = self.map(&ROOT, "visits", "")?;
        Ok(self.doc.keys(&visits).collect())
    }

    /// The winning value at `key`, after checking any values it won over:
    /// automerge keeps concurrent values, and people are shown all of them,
    /// so the losers must be as valid as the winner could be.
    pub(super) fn get(
        &self,
        obj: &ObjId,
        key: &str,
        path: &str,
    ) -> Result<Option<(Value<'_>, ObjId)>, SchemaError> {
        let at = || join(path, key);
        let all = self
            .doc
            .get_all(obj, key)
            .map_err(|e| SchemaError::new(at(), e.to_string()))?;
        if all.len() > 1 {
            for (value, id) in &all {
                self.check_alternative(value, id, key, &at())?;
            }
        }
        self.doc
            .get(obj, key)
            .map_err(|e| SchemaError::new(at(), e.to_string()))
    }

    /// One of several concurrent values: text within limits or a plain value;
    /// never a replaced object, except concurrent reviews of one visit.
    fn check_alternative(
        &self,
        value: &Value<'_>,
        id: &ObjId,
        key: &str,
        path: &str,
    ) -> Result<(), SchemaError> {
        match value {
            Value::Scalar(s) => match s.as_ref() {
                ScalarValue::Str(text) => check_len(text, MAX_FREE_TEXT, path),
                ScalarValue::Int(_)
                | ScalarValue::Uint(_)
                | ScalarValue::F64(_)
                | ScalarValue::Timestamp(_)
                | ScalarValue::Boolean(_) => Ok(()),
                _ => Err(SchemaError::new(
                    path,
                    "concurrent values must be text or plain values",
                )),
            },
            Value::Object(ObjType::Text) => {
                let text = self.value_text(value.clone(), id.clone(), path)?;
                check_len(&text, MAX_FREE_TEXT, path)
            }
            Value::Object(ObjType::Map) if key == "review" => self.review(id, path).map(|_| ()),
            Value::Object(_) => Err(SchemaError::new(
                path,
                "was replaced concurrently; objects are never replaced",
            )),
        }
    }

    pub(super) fn require(
        &self,
        obj: &ObjId,
        key: &str,
        path: &str,
    ) -> Result<(Value<'_>, ObjId), SchemaError> {
        self.get(obj, key, path)?
            .ok_or_else(|| SchemaError::new(join(path, key), "is required"))
    }

    pub(super) fn only_keys(
        &self,
        obj: &ObjId,
        path: &str,
        allowed: &[&str],
    ) -> Result<(), SchemaError> {
        match self
            .doc
            .keys(obj)
            .find(|key| !allowed.contains(&key.as_str()))
        {
            Some(key) => Err(SchemaError::new(
                join(path, &key),
                "is not a field of the case record",
            )),
            None => Ok(()),
        }
    }

    pub(super) fn object(
        &self,
        obj: &ObjId,
        key: &str,
        path: &str,
        want: ObjType,
    ) -> Result<Option<ObjId>, SchemaError> {
        match self.get(obj, key, path)? {
            None => Ok(None),
            Some((Value::Object(kind), id)) if kind == want => Ok(Some(id)),
            Some(_) => Err(SchemaError::new(
                join(path, key),
                format!("must be a {want:?}"),
            )),
        }
    }

    pub(super) fn map(&self, obj: &ObjId, key: &str, path: &str) -> Result<ObjId, SchemaError> {
        self.object(obj, key, path, ObjType::Map)?
            .ok_or_else(|| SchemaError::new(join(path, key), "is required"))
    }

    pub(super) fn optional_map(
        &self,
        obj: &ObjId,
        key: &str,
        path: &str,
    ) -> Result<Option<ObjId>, SchemaError> {
        self.object(obj, key, path, ObjType::Map)
    }

    pub(super) fn list(&self, obj: &ObjId, key: &str, path: &str) -> Result<ObjId, SchemaError> {
        self.object(obj, key, path, ObjType::List)?
            .ok_or_else(|| SchemaError::new(join(path, key), "is required"))
    }

    pub(super) fn value_text(
        &self,
        value: Value<'_>,
        id: ObjId,
        path: &str,
    ) -> Result<String, SchemaError> {
        match value {
            Value::Scalar(s) => match s.as_ref() {
                ScalarValue::Str(s) => Ok(s.to_string()),
                _ => Err(SchemaError::new(path, "must be text")),
            },
            Value::Object(ObjType::Text) => self
                .doc
                .text(&id)
                .map_err(|e| SchemaError::new(path, e.to_string())),
            Value::Object(_) => Err(SchemaError::new(path, "must be text")),
        }
    }

    pub(super) fn optional_text(
        &self,
        obj: &ObjId,
        key: &str,
        path: &str,
    ) -> Result<Option<String>, SchemaError> {
        match self.get(obj, key, path)? {
            None => Ok(None),
            Some((value, id)) => self.value_text(value, id, &join(path, key)).map(Some),
        }
    }

    pub(super) fn text(&self, obj: &ObjId, key: &str, path: &str) -> Result<String, SchemaError> {
        let (value, id) = self.require(obj, key, path)?;
        self.value_text(value, id, &join(path, key))
    }

    pub(super) fn short_text(
        &self,
        obj: &ObjId,
        key: &str,
        path: &str,
    ) -> Result<String, SchemaError> {
        let text = self.text(obj, key, path)?;
        check_len(&text, MAX_SHORT_TEXT, &join(path, key))?;
        Ok(text)
    }

    pub(super) fn choice<T>(
        &self,
        obj: &ObjId,
        key: &str,
        path: &str,
        parse: fn(&str) -> Option<T>,
    ) -> Result<T, SchemaError> {
        // Every concurrent value must be one of the choices, not just the winner.
        let all = self
            .doc
            .get_all(obj, key)
            .map_err(|e| SchemaError::new(join(path, key), e.to_string()))?;
        for (value, id) in all {
            let text = self.value_text(value, id, &join(path, key))?;
            if parse(&text).is_none() {
                // The value itself stays out of the message: it may be anything.
                return Err(SchemaError::new(
                    join(path, key),
                    "is not one of the allowed values",
                ));
            }
        }
        let text = self.text(obj, key, path)?;
        parse(&text)
            .ok_or_else(|| SchemaError::new(join(path, key), "is not one of the allowed values"))
    }

    pub(super) fn int(&self, obj: &ObjId, key: &str, path: &str) -> Result<i64, SchemaError> {
        match self.require(obj, key, path)? {
            (Value::Scalar(s), _) => match s.as_ref() {
                ScalarValue::Int(n) => Ok(*n),
                ScalarValue::Uint(n) => {
                    i64::try_from(*n).map_err(|_| SchemaError::new(join(path, key), "out of range"))
                }
                ScalarValue::F64(f) if f.fract() == 0.0 && f.abs() < 9.0e15 => Ok(*f as i64),
                _ => Err(SchemaError::new(join(path, key), "must be a whole number")),
            },
            _ => Err(SchemaError::new(join(path, key), "must be a whole number")),
        }
    }

    /// A moment, as an automerge timestamp (a JS `Date`) or milliseconds since 1970.
    pub(super) fn time(&self, obj: &ObjId, key: &str, path: &str) -> Result<i64, SchemaError> {
        match self.require(obj, key, path)? {
            (Value::Scalar(s), _) if matches!(s.as_ref(), ScalarValue::Timestamp(_)) => {
                Ok(s.as_i64().unwrap_or_default())
            }
            _ => self
                .int(obj, key, path)
                .map_err(|_| SchemaError::new(join(path, key), "must be a timestamp")),
        }
    }

    pub(super) fn boolean(&self, obj: &ObjId, key: &str, path: &str) -> Result<bool, SchemaError> {
        match self.require(obj, key, path)? {
            (Value::Scalar(s), _) => s
                .as_bool()
                .ok_or_else(|| SchemaError::new(join(path, key), "must be true or false")),
            _ => Err(SchemaError::new(join(path, key), "must be true or false")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::case::fixtures::new_case;
    use crate::case::{AddressStatus, set_address};

    #[test]
    fn keeps_both_concurrent_addresses() {
        let mut a = new_case();
        let mut b = a.fork();
        set_address(&mut a, "Nieuwstraat 2", AddressStatus::Moved).unwrap();
        set_address(&mut b, "Oudeweg 3", AddressStatus::Moved).unwrap();
        a.merge(&mut b).unwrap();
        let view = CaseRecord::new(&a).view().unwrap();
        let mut values: Vec<_> = view.address.into_iter().map(|a| a.value).collect();
        values.sort();
        assert_eq!(values, vec!["Nieuwstraat 2", "Oudeweg 3"]);
    }
}
