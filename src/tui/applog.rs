//! fleetdeck's own log in the console (the `L` pane): records go to tui-logger's buffer, and
//! the event loop moves them into the widget's buffer (`flush`) once a tick and before the
//! pane is drawn. tui-logger's own `init_logger` would start a thread that wakes 100 times a
//! second to do that, which is most of what an idle console would otherwise cost.

use log::{LevelFilter, Log, Metadata, Record};

/// Records at this level and above are kept.
const LEVEL: LevelFilter = LevelFilter::Info;

/// Records that may arrive between two flushes without loss (a tick is a second).
const HOT_DEPTH: usize = 10_000;

struct ConsoleLog;

impl Log for ConsoleLog {
    fn enabled(&self, metadata: &Metadata) -> bool {
        metadata.level() <= LEVEL
    }

    fn log(&self, record: &Record) {
        if self.enabled(record.metadata()) {
            tui_logger::Drain::new().log(record);
        }
    }

    fn flush(&self) {}
}

/// Install the console's logger (once per process; later calls change nothing).
pub fn install() {
    tui_logger::set_hot_buffer_depth(HOT_DEPTH);
    if log::set_boxed_logger(Box::new(ConsoleLog)).is_ok() {
        log::set_max_level(LEVEL);
    }
    flush();
}

/// Move the records logged since the last call into the pane's buffer.
pub fn flush() {
    tui_logger::move_events();
}

#[cfg(test)]
mod tests {
    #[test]
    fn records_reach_the_pane_after_a_flush_and_debug_is_dropped() {
        super::install();
        log::info!(target: "fleetdeck-applog-test", "visible");
        log::debug!(target: "fleetdeck-applog-test", "hidden");
        super::flush();
        let backend = ratatui::backend::TestBackend::new(100, 6);
        let mut t = ratatui::Terminal::new(backend).unwrap();
        let widget = tui_logger::TuiLoggerWidget::default().output_target(false).output_file(false).output_line(false);
        t.draw(|f| f.render_widget(widget, f.area())).unwrap();
        let buf = t.backend().buffer().clone();
        let text: String = buf.content().iter().map(|c| c.symbol()).collect();
        assert!(text.contains("visible"), "{text}");
        assert!(!text.contains("hidden"), "{text}");
    }
}
