//! Changing what is recorded of a member or an agreement. Only the fields a
//! person changed are written (each with `case::settle`), so a colleague's
//! concurrent change of another field stays, and one of the same field shows
//! as a conflict.

use leptos::prelude::*;
use veldwerk_core::DocumentId;
use veldwerk_core::case::{AgreementView, FieldValue, MemberRole, MemberView, settle};

use super::case::role_text;
use super::t;
use crate::app;
use crate::i18n::T;

/// What is being changed, kept outside the record's rendering: the record
/// is drawn again whenever anything syncs, and a half-typed change must
/// survive that. One editor is open at a time.
#[derive(Clone, Copy)]
pub struct Drafts {
    /// Which: `member:<id>`, `agreement:<id>` or `conflict:<path>`.
    pub editing: RwSignal<Option<String>>,
    pub text: RwSignal<String>,
    pub other: RwSignal<String>,
    pub role: RwSignal<MemberRole>,
    pub flag: RwSignal<bool>,
    pub error: RwSignal<Option<String>>,
}

impl Drafts {
    pub fn new() -> Self {
        Drafts {
            editing: RwSignal::new(None),
            text: RwSignal::new(String::new()),
            other: RwSignal::new(String::new()),
            role: RwSignal::new(MemberRole::Child),
            flag: RwSignal::new(false),
            error: RwSignal::new(None),
        }
    }

    pub fn is_open(self, key: &str) -> bool {
        self.editing.with(|e| e.as_deref() == Some(key))
    }

    fn close(self) {
        self.editing.set(None);
        self.error.set(None);
    }
}

/// Writes `(field, value)` under `parent` (`["members", id]`), changed ones only.
fn save(
    id: DocumentId,
    parent: [String; 2],
    changes: Vec<(&'static str, FieldValue)>,
    drafts: Drafts,
) {
    if changes.is_empty() {
        drafts.close();
        return;
    }
    leptos::task::spawn_local(async move {
        let result = app::edit(id, move |tx| {
            for (field, value) in &changes {
                let path = [parent[0].clone(), parent[1].clone(), (*field).to_owned()];
                settle(tx, &path, value)?;
            }
            Ok(())
        })
        .await;
        match result {
            Ok(()) => drafts.close(),
            Err(e) => drafts.error.set(Some(e.to_string())),
        }
    });
}

#[component]
pub fn MemberItem(id: DocumentId, member: MemberView, drafts: Drafts) -> impl IntoView {
    let (name, birth, role) = (drafts.text, drafts.other, drafts.role);
    let key = format!("member:{}", member.id);
    let start = {
        let (key, member) = (key.clone(), member.clone());
        move |_| {
            name.set(member.name.clone());
            birth.set(member.birth_date.clone().unwrap_or_default());
            role.set(member.role);
            drafts.error.set(None);
            drafts.editing.set(Some(key.clone()));
        }
    };
    let field = |f: &str| format!("member-{}-{f}", member.id);
    let (name_id, birth_id, role_id) = (field("name"), field("birth"), field("role"));
    let err_key = key.clone();
    let was = member.clone();
    let submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        let mut changes = Vec::new();
        let new_name = name.get_untracked().trim().to_owned();
        if new_name != was.name {
            changes.push(("name", FieldValue::Text(new_name)));
        }
        let new_birth = birth.get_untracked();
        if !new_birth.is_empty() && Some(&new_birth) != was.birth_date.as_ref() {
            changes.push(("birthDate", FieldValue::Text(new_birth)));
        }
        if role.get_untracked() != was.role {
            changes.push((
                "role",
                FieldValue::Text(role.get_untracked().as_str().to_owned()),
            ));
        }
        save(id, ["members".into(), was.id.clone()], changes, drafts);
    };
    let label = format!(
        "{}{} · {}",
        member.name,
        member
            .birth_date
            .as_ref()
            .map(|d| format!(" ({d})"))
            .unwrap_or_default(),
        role_text(member.role)
    );
    view! {
        <li data-member=member.id.clone()>
            {label}" "
            <button class="link" on:click=start>{t(T::ChangeMember)}</button>
            {move || drafts.is_open(&key).then(|| view! {
                <form class="card" on:submit=submit.clone()>
                    <label for=name_id.clone()>{t(T::MemberName)}</label>
                    <input id=name_id.clone() prop:value=move || name.get() on:input=move |ev| name.set(event_target_value(&ev))/>
                    <label for=birth_id.clone()>{t(T::BirthDate)}</label>
                    <input id=birth_id.clone() type="date" prop:value=move || birth.get() on:input=move |ev| birth.set(event_target_value(&ev))/>
                    <label for=role_id.clone()>{t(T::MemberRole)}</label>
                    <select id=role_id.clone() on:change=move |ev| {
                        if let Some(r) = MemberRole::parse(&event_target_value(&ev)) { role.set(r) }
                    }>
                        {MemberRole::ALL.iter().map(|r| view! {
                            <option value=r.as_str() selected=move || role.get() == *r>{role_text(*r)}</option>
                        }).collect_view()}
                    </select>
                    <button type="submit" class="primary">{t(T::Save)}</button>
                    <button type="button" on:click=move |_| drafts.close()>{t(T::Cancel)}</button>
                </form>
            })}
            {move || drafts.is_open(&err_key).then(|| drafts.error.get()).flatten().map(|e| view! { <p class="error" role="alert">{e}</p> })}
        </li>
    }
}

#[component]
pub fn AgreementItem(id: DocumentId, agreement: AgreementView, drafts: Drafts) -> impl IntoView {
    let (text, due, done) = (drafts.text, drafts.other, drafts.flag);
    let key = format!("agreement:{}", agreement.id);
    let start = {
        let (key, agreement) = (key.clone(), agreement.clone());
        move |_| {
            text.set(agreement.text.clone());
            due.set(agreement.due.clone().unwrap_or_default());
            done.set(agreement.done);
            drafts.error.set(None);
            drafts.editing.set(Some(key.clone()));
        }
    };
    let field = |f: &str| format!("agreement-{}-{f}", agreement.id);
    let (text_id, due_id, done_id) = (field("text"), field("due"), field("done"));
    let err_key = key.clone();
    let was = agreement.clone();
    let submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        let mut changes = Vec::new();
        let new_text = text.get_untracked().trim().to_owned();
        if new_text != was.text {
            changes.push(("text", FieldValue::Text(new_text)));
        }
        let new_due = due.get_untracked();
        if !new_due.is_empty() && Some(&new_due) != was.due.as_ref() {
            changes.push(("due", FieldValue::Text(new_due)));
        }
        if done.get_untracked() != was.done {
            changes.push(("done", FieldValue::Bool(done.get_untracked())));
        }
        save(id, ["agreements".into(), was.id.clone()], changes, drafts);
    };
    let label = format!(
        "{}{}{}",
        agreement.text,
        agreement
            .due
            .as_ref()
            .map(|d| format!(" ({d})"))
            .unwrap_or_default(),
        if agreement.done {
            format!(" · {}", t(T::AgreementDone))
        } else {
            String::new()
        }
    );
    view! {
        <li data-agreement=agreement.id.clone()>
            {label}" "
            <button class="link" on:click=start>{t(T::ChangeMember)}</button>
            {move || drafts.is_open(&key).then(|| view! {
                <form class="card" on:submit=submit.clone()>
                    <label for=text_id.clone()>{t(T::AgreementText)}</label>
                    <input id=text_id.clone() prop:value=move || text.get() on:input=move |ev| text.set(event_target_value(&ev))/>
                    <label for=due_id.clone()>{t(T::AgreementDue)}</label>
                    <input id=due_id.clone() type="date" prop:value=move || due.get() on:input=move |ev| due.set(event_target_value(&ev))/>
                    <label for=done_id.clone()>
                        <input id=done_id.clone() type="checkbox" prop:checked=move || done.get()
                            on:change=move |ev| done.set(event_target_checked(&ev))/>
                        " "{t(T::AgreementDone)}
                    </label>
                    <button type="submit" class="primary">{t(T::Save)}</button>
                    <button type="button" on:click=move |_| drafts.close()>{t(T::Cancel)}</button>
                </form>
            })}
            {move || drafts.is_open(&err_key).then(|| drafts.error.get()).flatten().map(|e| view! { <p class="error" role="alert">{e}</p> })}
        </li>
    }
}
