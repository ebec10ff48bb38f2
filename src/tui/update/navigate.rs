//! Scrolling and selection in the transcript. Rows are located through the store's running
//! totals, so none of this walks the entries.

use crate::tui::action::Action;
use crate::tui::app::App;
use crate::tui::layout;
use crate::tui::store::rows_of;

/// Rows the transcript shows.
pub fn view_rows(app: &App) -> u64 {
    let areas = layout::compute(layout::screen(app.size), app);
    u64::from(areas.transcript.height)
}

fn max_top(app: &App) -> u64 {
    app.store.total_rows().saturating_sub(view_rows(app))
}

/// The first transcript row on screen.
pub fn top_row(app: &App) -> u64 {
    let max = max_top(app);
    app.scroll.map_or(max, |t| t.min(max))
}

/// Scrolls to `top`; reaching the bottom resumes following the tail.
pub(super) fn set_top(app: &mut App, top: u64) {
    let max = max_top(app);
    app.scroll = (top < max).then_some(top);
}

fn select(app: &mut App, idx: Option<usize>) {
    // Selecting the latest reply is the same as following it.
    app.selected = idx.filter(|&i| Some(i) != app.store.last_mark());
    app.diagnosis_scroll = 0;
    if let Some(i) = idx {
        ensure_visible(app, i);
    }
}

fn ensure_visible(app: &mut App, idx: usize) {
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
            if let Some(i) = from.and_then(|f| app.store.previous_mark(Some(f))) {
                select(app, Some(i));
            }
        }
        Action::SelectNext => {
            if let Some(i) = app.selected {
                let next = app.store.next_mark(i);
                select(app, next);
            }
        }
        Action::PageUp => scroll_by(app, -page),
        Action::PageDown => scroll_by(app, page),
        Action::Scroll(n) => scroll_by(app, i64::from(n)),
        Action::Top => app.scroll = (max_top(app) > 0).then_some(0),
        Action::Bottom => {
            app.scroll = None;
            app.selected = None;
            app.diagnosis_scroll = 0;
        }
        Action::ScrollLeft => app.hscroll = app.hscroll.saturating_sub(8),
        Action::ScrollRight => app.hscroll = app.hscroll.saturating_add(8).min(2000),
        Action::ScrollDiagnosis(n) => {
            let area = layout::compute(layout::screen(app.size), app).diagnosis;
            let total = crate::tui::view::diagnosis_rows(app, area.width);
            let max = (total + 1).saturating_sub(usize::from(area.height));
            let next = (i64::from(app.diagnosis_scroll) + i64::from(n)).max(0);
            let next = usize::try_from(next).unwrap_or(0).min(max);
            app.diagnosis_scroll = u16::try_from(next).unwrap_or(u16::MAX);
        }
        Action::ClickTranscript(row) => {
            let at = top_row(app) + u64::from(row);
            if let Some((idx, _)) = app.store.locate(at)
                && app.store.is_mark(idx)
            {
                select(app, Some(idx));
            }
        }
        _ => {}
    }
}
