import DroverControl
import Testing

@Suite("connection caps and roles (pure)")
struct LimitsAndRolesTests {
    @Test("per-user and total caps; closing frees a slot; root is held only by the total")
    func caps() {
        var limits = ConnectionLimits(total: 5, perUser: 2)
        #expect(limits.admit(uid: 1000) == .admitted)
        #expect(limits.admit(uid: 1000) == .admitted)
        #expect(limits.admit(uid: 1000) == .refused(scope: "user", limit: 2))
        #expect(limits.admit(uid: 1001) == .admitted)
        #expect(limits.admit(uid: 0) == .admitted)
        #expect(limits.admit(uid: 0) == .admitted)
        #expect(limits.admit(uid: 0) == .refused(scope: "total", limit: 5))
        limits.release(uid: 1000)
        #expect(limits.openTotal == 4 && limits.open[1000] == 1)
        #expect(limits.admit(uid: 1000) == .admitted)
        limits.release(uid: 4242)  // never admitted: no effect
        #expect(limits.openTotal == 5)
    }

    @Test("root and members of the operators group operate; everyone else reads; a missing group leaves only root")
    func roles() {
        let authorization = Authorization(operatorsGroup: "drover", operatorsGroupID: 990)
        func peer(uid: UInt32, gid: UInt32, groups: [UInt32] = []) -> PeerIdentity {
            PeerIdentity(uid: uid, gid: gid, pid: 1, user: nil, groups: groups)
        }
        #expect(authorization.role(of: peer(uid: 0, gid: 0)) == .operator)
        #expect(authorization.role(of: peer(uid: 1000, gid: 1000, groups: [1000, 990])) == .operator)
        #expect(authorization.role(of: peer(uid: 1000, gid: 990)) == .operator)
        #expect(authorization.role(of: peer(uid: 1000, gid: 1000, groups: [1000, 27])) == .reader)
        let noGroup = Authorization(operatorsGroup: "drover", operatorsGroupID: nil)
        #expect(noGroup.role(of: peer(uid: 1000, gid: 990, groups: [990])) == .reader)
        #expect(noGroup.role(of: peer(uid: 0, gid: 0)) == .operator)
    }
}
