//! The event bus: every part of the engine publishes [`Event`]s here; each shell subscribes once.

use gitops_lab_protocol::Event;
use tokio::sync::broadcast;

/// How many events a slow subscriber may fall behind before it is told to resync.
const CAPACITY: usize = 4096;

/// A cheap cloneable publisher of engine events.
#[derive(Clone, Debug)]
pub struct EventBus {
    sender: broadcast::Sender<Event>,
}

impl Default for EventBus {
    fn default() -> Self {
        Self::new()
    }
}

impl EventBus {
    /// A bus with no subscribers yet.
    pub fn new() -> EventBus {
        EventBus { sender: broadcast::channel(CAPACITY).0 }
    }

    /// Publishes an event; without subscribers it is dropped.
    pub fn publish(&self, event: Event) {
        let _ = self.sender.send(event);
    }

    /// A new subscription, starting with the next event.
    pub fn subscribe(&self) -> Subscription {
        Subscription { receiver: self.sender.subscribe() }
    }
}

/// One subscriber's view of the bus.
#[derive(Debug)]
pub struct Subscription {
    receiver: broadcast::Receiver<Event>,
}

impl Subscription {
    /// The next event; [`Event::Resync`] when the subscriber fell behind and events were dropped.
    /// `None` once the engine is gone.
    pub async fn next(&mut self) -> Option<Event> {
        match self.receiver.recv().await {
            Ok(event) => Some(event),
            Err(broadcast::error::RecvError::Lagged(_)) => Some(Event::Resync),
            Err(broadcast::error::RecvError::Closed) => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use gitops_lab_protocol::Text;

    fn notice(n: usize) -> Event {
        Event::Notice { level: "info".into(), message: Text::same(n.to_string()) }
    }

    #[tokio::test]
    async fn a_subscriber_that_falls_behind_is_told_to_resync() {
        let bus = EventBus::new();
        let mut slow = bus.subscribe();
        for n in 0..CAPACITY + 10 {
            bus.publish(notice(n));
        }
        assert_eq!(slow.next().await, Some(Event::Resync));
        assert!(matches!(slow.next().await, Some(Event::Notice { .. })));
    }
}
