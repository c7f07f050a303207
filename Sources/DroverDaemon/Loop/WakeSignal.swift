import Dispatch
import Synchronization

/// Lets the fleet loop sleep until something it waits for happens (a phase
/// finished, a read came back, an operator acted) or its next tick, whichever comes
/// first: a database's next phase starts at once instead of a tick later.
/// One continuation, and one repeating timer for the ticks, armed once: the loop
/// sleeps and wakes thousands of times in a rollout, and a timer armed for each
/// sleep costs a thread's wake-up even when the sleep ended early.
final class WakeSignal: Sendable {
    private struct State {
        var pending = false
        var waiter: CheckedContinuation<Void, Never>?
        var ticker: Ticker?
    }

    /// A dispatch timer is safe to cancel from any thread.
    private struct Ticker: @unchecked Sendable {
        let timer: DispatchSourceTimer
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

    /// Signals every `interval` from now on (the loop's tick), until `stopTicking`.
    func tick(every interval: Duration) {
        let timer = DispatchSource.makeTimerSource()
        let nanoseconds = Int(interval.components.seconds) * 1_000_000_000 + Int(interval.components.attoseconds / 1_000_000_000)
        timer.schedule(deadline: .now() + .nanoseconds(nanoseconds), repeating: .nanoseconds(nanoseconds), leeway: .milliseconds(5))
        timer.setEventHandler { [weak self] in self?.signal() }
        let previous = state.withLock { state -> Ticker? in
            defer { state.ticker = Ticker(timer: timer) }
            return state.ticker
        }
        previous?.timer.cancel()
        timer.resume()
    }

    func stopTicking() {
        state.withLock { state -> Ticker? in
            defer { state.ticker = nil }
            return state.ticker
        }?.timer.cancel()
    }

    /// Returns at the next signal or tick, or when the task is cancelled.
    nonisolated(nonsending) func wait() async {
        await withTaskCancellationHandler {
            await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
                // Under the lock, so that a signal or a cancellation either finds the
                // waiter or is seen here.
                let now = state.withLock { state -> Bool in
                    if state.pending || Task.isCancelled {
                        state.pending = false
                        return true
                    }
                    state.waiter = continuation
                    return false
                }
                if now { continuation.resume() }
            }
        } onCancel: {
            signal()
        }
    }
}
