import DroverCore
import Foundation
import Testing

@Suite("Leader election: when an instance leads, on an injected clock")
struct LeaderElectionTests {
    let me = LeaderElection.Holder(instance: "me", host: "a", pid: 1, term: 1, since: Date(timeIntervalSince1970: 0))
    let other = LeaderElection.Holder(instance: "other", host: "b", pid: 2, term: 2, since: Date(timeIntervalSince1970: 10))

    @Test("taking the lease leads once; renewals do not repeat it; validity counts from the sending, less the margin")
    func leadAndRenew() {
        var election = LeaderElection(instance: "me", lease: .seconds(15))
        #expect(election.renewalInterval == .seconds(5) && election.margin == .seconds(3))
        #expect(!election.mayLead(at: .zero))
        #expect(election.answered(holder: me, sentAt: .seconds(1), now: .seconds(2)) == .lead(me))
        #expect(election.mayLead(at: .seconds(12.9)))
        #expect(!election.mayLead(at: .seconds(13)), "1 s sent + 15 s lease − 3 s margin")
        #expect(election.answered(holder: me, sentAt: .seconds(6), now: .seconds(6.1)) == .none)
        #expect(election.mayLead(at: .seconds(17.9)))
    }

    @Test("without renewal the leader steps down when its lease runs out, before another may take it")
    func stepDownWithoutRenewal() {
        var election = LeaderElection(instance: "me", lease: .seconds(15))
        _ = election.answered(holder: me, sentAt: .zero, now: .zero)
        #expect(election.tick(now: .seconds(11.9)) == .none)
        #expect(election.tick(now: .seconds(12)) == .follow(leader: nil))
        #expect(!election.isLeader)
        #expect(election.tick(now: .seconds(20)) == .none, "stepping down happens once")
    }

    @Test("an answer that arrives after the lease it renewed ran out does not lead (a stopped process resumed)")
    func lateAnswer() {
        var election = LeaderElection(instance: "me", lease: .seconds(15))
        _ = election.answered(holder: me, sentAt: .zero, now: .zero)
        #expect(election.answered(holder: me, sentAt: .seconds(5), now: .seconds(40)) == .follow(leader: nil))
        #expect(!election.mayLead(at: .seconds(40)))
    }

    @Test("another holder: a leader steps down to follow it; a follower learns each new leader once")
    func anotherHolder() {
        var election = LeaderElection(instance: "me", lease: .seconds(15))
        #expect(election.answered(holder: other, sentAt: .zero, now: .zero) == .follow(leader: other))
        #expect(election.answered(holder: other, sentAt: .seconds(5), now: .seconds(5)) == .none)
        #expect(election.answered(holder: me, sentAt: .seconds(10), now: .seconds(10)) == .lead(me))
        var next = other
        next.term = 3
        #expect(election.answered(holder: next, sentAt: .seconds(15), now: .seconds(15)) == .follow(leader: next))
        #expect(!election.mayLead(at: .seconds(15)))
    }
}
