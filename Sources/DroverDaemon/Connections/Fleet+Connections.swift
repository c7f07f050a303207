import DroverPostgres

extension Fleet {
    /// Closes the kept connections unused for `age`.
    func closeIdleConnections(olderThan age: Duration) async {
        for connection in connections.expire(olderThan: age, at: .now) { await connection.close() }
    }
}
