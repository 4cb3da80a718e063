//! Follow/pause state of a log pane, driven by the changes a [`FilteredView`] reports.
//!
//! [`FilteredView`]: super::FilteredView

use super::{BatchChange, ViewChange};

/// Follow/pause state of a log pane: `top` is the view index of the first visible row.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Follow {
    pub following: bool,
    pub top: usize,
    /// Entries that arrived in the view while paused.
    pub new_since_pause: u64,
}

impl Default for Follow {
    fn default() -> Self {
        Follow { following: true, top: 0, new_since_pause: 0 }
    }
}

fn max_top(len: usize, height: usize) -> usize {
    len.saturating_sub(height)
}

impl Follow {
    /// Following the end.
    pub fn new() -> Self {
        Self::default()
    }

    /// Stops following; the window stays where it is.
    pub fn pause(&mut self) {
        if self.following {
            self.following = false;
            self.new_since_pause = 0;
        }
    }

    /// Jumps to the end and follows it again.
    pub fn resume(&mut self, len: usize, height: usize) {
        self.following = true;
        self.new_since_pause = 0;
        self.top = max_top(len, height);
    }

    /// `n` entries were appended to the view, which now has `len`.
    pub fn on_appended(&mut self, n: u64, len: usize, height: usize) {
        if self.following {
            self.top = max_top(len, height);
        } else {
            self.new_since_pause += n;
        }
    }

    /// Applies one [`ViewChange`]; while paused the same entries stay on screen (eviction
    /// and inserts above the window move `top`).
    pub fn on_change(&mut self, c: &ViewChange, len: usize, height: usize) {
        if self.following {
            self.top = max_top(len, height);
            return;
        }
        self.top = self.top.saturating_sub(c.removed_front);
        if let Some(i) = c.inserted_at {
            if i < self.top {
                self.top += 1;
            }
            self.new_since_pause += 1;
        }
        self.top = self.top.min(max_top(len, height));
    }

    /// Applies one [`BatchChange`] (see [`on_change`](Self::on_change)).
    pub fn on_batch(&mut self, c: &BatchChange, len: usize, height: usize) {
        if self.following {
            self.top = max_top(len, height);
            return;
        }
        // the old first visible entry ends at the `top`-th final index not taken by a new one
        let mut top = self.top.saturating_sub(c.removed_front);
        for &i in &c.inserted_at {
            if i <= top {
                top += 1;
            }
        }
        self.top = top.min(max_top(len, height));
        self.new_since_pause += c.inserted_at.len() as u64;
    }

    /// Moves the window by `delta` rows: moving up pauses, reaching the end resumes.
    pub fn scroll(&mut self, delta: isize, len: usize, height: usize) {
        let max = max_top(len, height);
        let top = self.top.saturating_add_signed(delta).min(max);
        if delta < 0 && top < max {
            self.pause();
        }
        self.top = top;
        if delta > 0 && top == max {
            self.resume(len, height);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn follow_batch_keeps_the_paused_window() {
        let mut f = Follow { following: false, top: 10, new_since_pause: 2 };
        // 3 evicted above; new entries at final indexes 2, 7 (above) and 9, 40 (below the old
        // top, which moves from 7 to 9: the slots 0..=9 hold 8 old entries and 2 new ones)
        let c = BatchChange { inserted_at: vec![2, 7, 9, 40], appended: 1, removed_front: 3 };
        f.on_batch(&c, 60, 10);
        assert_eq!((f.top, f.new_since_pause), (10, 6));
        let c = BatchChange { inserted_at: vec![0, 1], appended: 0, removed_front: 0 };
        f.on_batch(&c, 62, 10);
        assert_eq!(f.top, 12);
        f.resume(62, 10);
        f.on_batch(&BatchChange { inserted_at: vec![62], appended: 1, removed_front: 0 }, 63, 10);
        assert_eq!((f.top, f.new_since_pause), (53, 0));
    }

    #[test]
    fn follow_pause_resume_and_counting() {
        let (len, h) = (100, 10);
        let mut f = Follow::new();
        f.on_appended(1, len, h);
        assert_eq!((f.following, f.top), (true, 90));
        f.scroll(-5, len, h);
        assert_eq!((f.following, f.top, f.new_since_pause), (false, 85, 0));
        f.on_appended(3, 103, h);
        assert_eq!((f.top, f.new_since_pause), (85, 3));
        f.on_change(&ViewChange { inserted_at: Some(10), appended: false, removed_front: 4 }, 103, h);
        assert_eq!((f.top, f.new_since_pause), (82, 4), "evicted 4 above, inserted 1 above");
        f.on_change(&ViewChange { inserted_at: Some(95), appended: true, removed_front: 0 }, 104, h);
        assert_eq!((f.top, f.new_since_pause), (82, 5), "below the window: top unchanged");
        f.scroll(-1000, 104, h);
        assert_eq!((f.top, f.following), (0, false));
        f.scroll(50, 104, h);
        assert_eq!((f.top, f.following), (50, false));
        f.scroll(1000, 104, h);
        assert_eq!((f.top, f.following, f.new_since_pause), (94, true, 0), "reaching the end resumes");
        f.pause();
        f.resume(200, h);
        assert_eq!((f.top, f.following), (190, true));
        f.on_change(&ViewChange { inserted_at: Some(200), appended: true, removed_front: 0 }, 201, h);
        assert_eq!(f.top, 191);
        let mut short = Follow::new();
        short.scroll(-3, 5, h);
        assert_eq!((short.top, short.following), (0, true), "nothing to scroll in a short view");
    }
}
