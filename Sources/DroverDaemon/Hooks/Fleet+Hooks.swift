import DroverCore
import Foundation

extension Fleet {
    /// The notification hooks an event calls for (docs/operations.md#hooks), started
    /// without waiting for them. Refused changes call for none.
    func notifyHooks(_ kind: String, _ message: String, database: String?, tier: String?, step: PlannedStep?, revision: String?) {
        guard !manifest.hooks.isEmpty, let event = Self.hookEvent(ofKind: kind, step: step) else { return }
        guard !message.hasPrefix("refused"), !message.contains("nothing changed") else { return }
        let tier = tier ?? database.flatMap { scheduler.database(named: $0)?.tier }
        var described = hookEvent(event, message, database: database, tier: tier, step: step)
        described.revision = revision
        let payload = described
        for hook in manifest.hooks where hook.runs(on: event, tier: tier, phase: step?.phase) {
            hooks.notify(hook, payload) { [weak self] result in await self?.hookEnded(hook, payload, result) }
        }
    }

    /// Which hook event an event of `watch` is. A cancel is one per phase stopped
    /// (the operator's command is audited besides).
    static func hookEvent(ofKind kind: String, step: PlannedStep?) -> Hook.Event? {
        switch kind {
        case "applied": .afterPhase
        case "failed": .failed
        case "halt": .halt
        case "wave-finished": .waveFinished
        case "promote": .promote
        case "release": .release
        case "cancel" where step != nil: .cancel
        case "drift": .drift
        default: nil
        }
    }

    func hookEvent(_ event: Hook.Event, _ message: String, database: String?, tier: String?, step: PlannedStep?) -> HookEvent {
        HookEvent(
            event: event.rawValue, at: Self.isoTime(clock()), database: database, tier: tier, revision: step?.revision, phase: step?.phase.rawValue,
            message: message)
    }

    /// Every hook run is logged and audited; a failed notification changes nothing else.
    func hookEnded(_ hook: Hook, _ event: HookEvent, _ result: HookResult) async {
        if result.succeeded {
            logger.info("hook \(hook.command) on \(event.event): \(result.summary)", metadata: ["db": "\(event.database ?? "-")"])
        } else {
            logger.warning("hook \(hook.command) on \(event.event) failed: \(result.summary)", metadata: ["db": "\(event.database ?? "-")"])
        }
        var parameters = ["event": event.event, "command": hook.command]
        parameters["db"] = event.database
        parameters["tier"] = event.tier
        await audit("hook", parameters, result.summary, .daemon)
    }
}
