//! A first-in, first-out queue drained a bounded slice per animation frame.
//!
//! The tree folds watch deltas in at animation frames. A burst (a Deployment scaled to a thousand
//! pods) can bring hundreds of deltas between two frames; folding them all into one frame makes that
//! frame long, and every delta waiting behind it waits for the whole frame. The queue hands each
//! frame at most a fixed number of items, oldest first, and says when another frame is needed for
//! the rest: nothing is dropped and the order is kept, so the model sees every revision in turn.

use std::collections::VecDeque;

/// Items waiting for a frame, and whether a frame has been asked for.
#[derive(Debug)]
pub struct FrameQueue<T> {
    items: VecDeque<T>,
    per_frame: usize,
    frame_asked: bool,
}

impl<T> FrameQueue<T> {
    /// An empty queue handing out at most `per_frame` items a frame (at least one).
    pub fn new(per_frame: usize) -> FrameQueue<T> {
        FrameQueue { items: VecDeque::new(), per_frame: per_frame.max(1), frame_asked: false }
    }

    /// Adds an item; true when the caller must ask for a frame (none is asked for yet).
    pub fn push(&mut self, item: T) -> bool {
        self.items.push_back(item);
        !std::mem::replace(&mut self.frame_asked, true)
    }

    /// A frame came: the oldest items, at most the frame's share, and whether the caller must ask
    /// for another frame for what is left (then that frame counts as asked for).
    pub fn take_frame(&mut self) -> (Vec<T>, bool) {
        let share = self.per_frame.min(self.items.len());
        let taken: Vec<T> = self.items.drain(..share).collect();
        self.frame_asked = !self.items.is_empty();
        (taken, self.frame_asked)
    }

    /// Forgets what waits (a snapshot replaced it). A frame already asked for stays asked for: it
    /// will find the queue empty, or holding what arrived since.
    pub fn clear(&mut self) {
        self.items.clear();
    }

    /// How many items wait.
    pub fn len(&self) -> usize {
        self.items.len()
    }

    /// Whether nothing waits.
    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Plays `arrivals[i]` items arriving before frame `i`, then frames until the queue is empty;
    /// returns what each frame got.
    fn play(per_frame: usize, arrivals: &[usize]) -> Vec<Vec<u32>> {
        let mut queue = FrameQueue::new(per_frame);
        let (mut next, mut asked, mut frames) = (0u32, false, Vec::new());
        let mut frame = 0;
        while frame < arrivals.len() || asked {
            for _ in 0..arrivals.get(frame).copied().unwrap_or(0) {
                // Exactly one frame is asked for while items wait.
                assert_eq!(queue.push(next), !asked, "push {next} before frame {frame}");
                asked = true;
                next += 1;
            }
            if asked {
                let (taken, again) = queue.take_frame();
                assert!(taken.len() <= per_frame);
                asked = again;
                frames.push(taken);
            }
            frame += 1;
        }
        frames
    }

    #[test]
    fn a_burst_is_spread_over_frames_with_nothing_lost_and_the_order_kept() {
        let frames = play(64, &[1_000, 0, 300, 5]);
        let all: Vec<u32> = frames.iter().flatten().copied().collect();
        assert_eq!(all, (0..1_305).collect::<Vec<_>>());
        assert!(frames.iter().all(|frame| frame.len() <= 64));
        assert_eq!(frames[0].len(), 64);
    }

    #[test]
    fn a_quiet_stream_is_folded_in_at_the_next_frame() {
        let frames = play(64, &[3, 1, 0, 2]);
        assert_eq!(frames, vec![vec![0, 1, 2], vec![3], vec![4, 5]]);
    }

    #[test]
    fn clearing_keeps_the_asked_frame_and_later_items() {
        let mut queue = FrameQueue::new(2);
        assert!(queue.push(1));
        assert!(!queue.push(2));
        queue.clear();
        // The frame asked for before the clear is still coming: no second one is asked for.
        assert!(!queue.push(3));
        assert_eq!(queue.take_frame(), (vec![3], false));
        assert!(queue.is_empty());
        assert!(queue.push(4));
        assert_eq!((queue.len(), FrameQueue::<u8>::new(0).per_frame), (1, 1));
    }
}
