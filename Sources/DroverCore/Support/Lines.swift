extension String {
    /// Lines split at LF or CRLF, without the terminators. (Swift treats CRLF as one
    /// Character, so splitting on "\n" alone misses it.)
    public var lines: [Substring] {
        var result: [Substring] = []
        var start = startIndex
        var index = startIndex
        while index < endIndex {
            let character = self[index]
            if character == "\n" || character == "\r\n" {
                result.append(self[start..<index])
                start = self.index(after: index)
            }
            index = self.index(after: index)
        }
        result.append(self[start..<endIndex])
        return result
    }
}
