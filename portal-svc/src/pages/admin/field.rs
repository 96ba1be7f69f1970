//! One form field as the configuration pages (providers, strategies, products) render it:
//! the handlers describe each field once, and one template partial
//! (templates/admin/field.html) gives every field its `<label for>`, its hint, and its
//! error linked with `aria-describedby`, so no form can forget them.

use crate::views::FormErrors;

/// What kind of control a field is, with what it shows.
pub enum Input {
    /// A one-line input of an HTML `type` (text, url, number).
    Text {
        kind: &'static str,
        value: String,
    },
    /// Several lines.
    Area {
        value: String,
    },
    /// A write-only value: never rendered with a value, not even after a failed post.
    /// `multiline` for PEM keys (a password input would strip their line breaks); `keep`
    /// on an edit form, where empty keeps the stored value.
    Secret {
        multiline: bool,
        keep: bool,
    },
    Check {
        checked: bool,
    },
    Select {
        options: Vec<Choice>,
    },
    /// A group of checkboxes sharing the field's name (a fieldset with a legend).
    Checks {
        options: Vec<Choice>,
    },
}

pub struct Choice {
    pub value: String,
    pub label: String,
    pub selected: bool,
}

impl Choice {
    pub fn new(value: impl Into<String>, label: impl Into<String>, selected: bool) -> Self {
        Self {
            value: value.into(),
            label: label.into(),
            selected,
        }
    }
}

pub struct Field {
    /// The form field's name, also its element id.
    pub name: String,
    pub label: String,
    /// Empty: no hint.
    pub hint: String,
    pub required: bool,
    pub input: Input,
    /// The registry's (or the portal's) message for this field.
    pub error: Option<String>,
}

impl Field {
    pub fn new(name: &str, label: &str, hint: impl Into<String>, input: Input) -> Self {
        Self {
            name: name.to_owned(),
            label: label.to_owned(),
            hint: hint.into(),
            required: false,
            input,
            error: None,
        }
    }

    pub fn required(mut self, required: bool) -> Self {
        self.required = required;
        self
    }

    pub fn text(name: &str, label: &str, hint: impl Into<String>, value: &str) -> Self {
        Self::new(
            name,
            label,
            hint,
            Input::Text {
                kind: "text",
                value: value.to_owned(),
            },
        )
    }

    pub fn check(name: &str, label: &str, hint: impl Into<String>, checked: bool) -> Self {
        Self::new(name, label, hint, Input::Check { checked })
    }

    /// The ids of the hint and the error, for `aria-describedby` (empty: neither).
    pub fn described_by(&self) -> String {
        let mut ids = Vec::new();
        if !self.hint.is_empty() {
            ids.push(format!("{}-hint", self.name));
        }
        if self.error.is_some() {
            ids.push(format!("{}-error", self.name));
        }
        ids.join(" ")
    }
}

/// A group of fields under a legend (none: the form's first, ungrouped fields).
pub struct Section {
    pub legend: String,
    pub fields: Vec<Field>,
}

impl Section {
    pub fn new(legend: &str, fields: Vec<Field>) -> Self {
        Self {
            legend: legend.to_owned(),
            fields,
        }
    }
}

/// Puts each of the registry's field messages next to its field. Messages about no field
/// on the form stay in `errors.message`, which the form shows at the top.
pub fn place_errors(sections: &mut [Section], errors: &FormErrors) {
    for field in sections.iter_mut().flat_map(|s| s.fields.iter_mut()) {
        if let Some(message) = errors.field(&field.name) {
            field.error = Some(message.to_owned());
        }
    }
}
