//! Scrolling and selection in the transcript. Rows are located through the store's running
//! totals, so none of this walks the entries.

use crate::tui::action::Action;
use crate::tui::app::{App, Follow};
use crate::tui::layout;
use crate::tui::store::rows_of;

/// Rows the transcript shows.
pub(crate) fn view_rows(app: &App) -> u64 {
    let areas = layout::compute(layout::screen(app.size), app);
    u64::from(areas.transcript.height)
}

fn max_top(app: &App) -> u64 {
    app.store.total_rows().saturating_sub(view_rows(app))
}

/// The first transcript row on screen.
pub(crate) fn top_row(app: &App) -> u64 {
    let max = max_top(app);
    app.scroll.map_or(max, |t| t.min(max))
}

/// Scrolls to `top`; reaching the bottom resumes following the tail.
pub(super) fn set_top(app: &mut App, top: u64) {
    let max = max_top(app);
    app.scroll = (top < max).then_some(top);
}

/// The user selects entry `idx`: the selection stays there until End, `c` or another choice.
fn select(app: &mut App, idx: usize) {
    app.selected = Some(idx);
    app.follow = Follow::User;
    app.diagnosis_scroll = 0;
    ensure_visible(app, idx);
}

/// Back to following: each new reply is selected.
pub(super) fn follow_latest(app: &mut App) {
    app.follow = Follow::Latest;
    app.selected = None;
    app.scroll = None;
    app.diagnosis_scroll = 0;
}

/// Keeps the selection on the reply that decided the verdict, unless the user chose another
/// entry. Called after every entry and state: the session model says which reply decided.
pub(crate) fn track_decisive(app: &mut App) {
    let seq = app.session.decisive_seq();
    let idx = seq.and_then(|s| app.store.index_of_seq(s));
    if seq.is_some() && idx.is_none() {
        return; // the entry has not reached the store yet
    }
    if seq != app.decided_seq {
        // A new decision (or the old one settled by a later success).
        app.decided_seq = seq;
        match (idx, app.follow) {
            (_, Follow::User) | (None, Follow::Latest) => {}
            (Some(i), _) => {
                app.follow = Follow::Decisive;
                app.selected = Some(i);
                app.diagnosis_scroll = 0;
            }
            (None, Follow::Decisive) => {
                app.follow = Follow::Latest;
                app.selected = None;
                app.diagnosis_scroll = 0;
            }
        }
    }
    if app.follow == Follow::Decisive
        && let Some(i) = app.selected
    {
        ensure_visible(app, i);
    }
}

pub(super) fn ensure_visible(app: &mut App, idx: usize) {
    let Some(entry) = app.store.get(idx) else {
        return;
    };
    let start = app.store.start_row(idx);
    let end = start + rows_of(entry);
    let view = view_rows(app).max(1);
    let top = top_row(app);
    if start < top {
        set_top(app, start);
    } else if end > top + view {
        set_top(app, end.saturating_sub(view));
    }
}

pub(super) fn navigate(app: &mut App, action: Action) {
    let page = i64::try_from(view_rows(app).saturating_sub(1).max(1)).unwrap_or(1);
    let scroll_by = |app: &mut App, delta: i64| {
        let top = i64::try_from(top_row(app)).unwrap_or(i64::MAX);
        let next = u64::try_from(top.saturating_add(delta).max(0)).unwrap_or(0);
        set_top(app, next);
    };
    match action {
        Action::SelectPrevious => {
            let from = app.explained();
            match from.and_then(|f| app.store.previous_mark(Some(f))) {
                Some(i) => select(app, i),
                // At the first reply already: keep it, but stop following.
                None => {
                    if let Some(f) = from {
                        select(app, f);
                    }
                }
            }
        }
        Action::SelectNext => {
            if let Some(i) = app.explained()
                && let Some(next) = app.store.next_mark(i)
            {
                select(app, next);
            }
        }
        Action::PageUp => scroll_by(app, -page),
        Action::PageDown => scroll_by(app, page),
        Action::Scroll(n) => scroll_by(app, i64::from(n)),
        Action::Top => {
            app.scroll = (max_top(app) > 0).then_some(0);
            if let Some(first) = app.store.first_mark() {
                select(app, first);
            }
        }
        Action::Bottom => follow_latest(app),
        Action::ScrollLeft => app.hscroll = app.hscroll.saturating_sub(8),
        Action::ScrollRight => app.hscroll = app.hscroll.saturating_add(8).min(2000),
        Action::ScrollDiagnosis(n) => {
            let (total, height) = layout::diagnosis_fill(app);
            let max = total.saturating_sub(height);
            let next = (i64::from(app.diagnosis_scroll) + i64::from(n)).max(0);
            let next = usize::try_from(next).unwrap_or(0).min(max);
            app.diagnosis_scroll = u16::try_from(next).unwrap_or(u16::MAX);
        }
        Action::ClickTranscript(row) => {
            let at = top_row(app) + u64::from(row);
            if let Some((idx, _)) = app.store.locate(at)
                && app.store.is_mark(idx)
            {
                select(app, idx);
            }
        }
        _ => {}
    }
}
