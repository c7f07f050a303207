import Dispatch
import Synchronization

/// Lets the fleet loop sleep until a deadline or until something it waits for
/// happens (a phase finished, a read came back, an operator acted), whichever
/// comes first: a database's next phase starts at once instead of a tick later.
/// One continuation and one timer per sleep, no tasks: the loop sleeps and wakes
/// thousands of times in a rollout.
final class WakeSignal: Sendable {
    private struct State {
        var pending = false
        var waiter: CheckedContinuation<Void, Never>?
        /// Which sleep the waiter belongs to: a timer of an earlier one finds
        /// another number and leaves the waiter alone.
        var sleep = 0
    }

    private let state = Mutex(State())

    /// Wakes the loop now, or at its next wait when it is not waiting.
    func signal() {
        let waiter = state.withLock { state -> CheckedContinuation<Void, Never>? in
            guard let waiter = state.waiter else {
                state.pending = true
                return nil
            }
            state.waiter = nil
            return waiter
        }
        waiter?.resume()
    }

    /// Returns after `timeout`, or earlier when signalled or cancelled.
    func wait(upTo timeout: Duration) async {
        await withTaskCancellationHandler {
            await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
                // Under the lock, so that a signal or a cancellation either finds the
                // waiter or is seen here.
                let sleep = state.withLock { state -> Int? in
                    if state.pending || Task.isCancelled {
                        state.pending = false
                        return nil
                    }
                    state.sleep += 1
                    state.waiter = continuation
                    return state.sleep
                }
                guard let sleep else { return continuation.resume() }
                let (seconds, attoseconds) = timeout.components
                let nanoseconds = max(0, Int(seconds) * 1_000_000_000 + Int(attoseconds / 1_000_000_000))
                DispatchQueue.global().asyncAfter(deadline: .now() + .nanoseconds(nanoseconds)) { [self] in
                    resume(ifSleeping: sleep)
                }
            }
        } onCancel: {
            signal()
        }
    }

    private func resume(ifSleeping sleep: Int) {
        let waiter = state.withLock { state -> CheckedContinuation<Void, Never>? in
            guard state.sleep == sleep, let waiter = state.waiter else { return nil }
            state.waiter = nil
            return waiter
        }
        waiter?.resume()
    }
}
