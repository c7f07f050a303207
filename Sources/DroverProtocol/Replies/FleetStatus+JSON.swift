/// The `Status` reply written by hand: with 10,000 databases, Foundation's
/// JSONEncoder spent most of a status call on 2 MB of rows. The bytes are exactly
/// what `VarlinkCodec.encode(OutgoingReply(parameters:))` writes (sorted keys,
/// `null` for absent values, slashes unescaped); a test holds the two equal.
extension FleetStatus {
    public func varlinkReply() throws -> [UInt8] {
        var out = JSONWriter()
        out.raw(#"{"parameters":{"databases":["#)
        for (index, row) in databases.enumerated() {
            if index > 0 { out.raw(",") }
            out.raw(#"{"alembic":"#)
            out.string(row.alembic)
            out.raw(#","contracted":"#)
            out.string(row.contracted)
            out.raw(#","drift":"#)
            out.string(row.drift)
            out.raw(#","error":"#)
            out.string(row.error)
            out.raw(#","expanded":"#)
            out.string(row.expanded)
            out.raw(#","name":"#)
            out.string(row.name)
            out.raw(#","next_window":"#)
            out.string(row.next_window)
            out.raw(#","schema":"#)
            out.string(row.schema)
            out.raw(#","server":"#)
            out.string(row.server)
            out.raw(#","state":"#)
            out.string(row.state.rawValue)
            out.raw(#","target":"#)
            out.string(row.target)
            out.raw(#","throttled":"#)
            out.string(row.throttled)
            out.raw(#","tier":"#)
            out.string(row.tier)
            out.raw(#","wave":"#)
            out.string(row.wave)
            out.raw("}")
            // Room for the rest at once: 100,000 rows are 30 MB, which doubling
            // from small would have copied and overshot.
            if index == 0 { out.bytes.reserveCapacity(out.bytes.count * databases.count * 11 / 10 + 4096) }
        }
        out.raw("]")
        if let instances {
            // A handful of rows: the codec writes them.
            out.raw(#","instances":"#)
            out.bytes += try VarlinkCodec.encode(instances)
            out.raw(#","leader":"#)
            out.bytes += try VarlinkCodec.encode(leader)
        }
        out.raw(#","state_store_error":"#)
        out.string(state_store_error)
        out.raw(#","tiers":["#)
        for (index, row) in tiers.enumerated() {
            if index > 0 { out.raw(",") }
            out.raw(#"{"failed":["#)
            for (position, name) in row.failed.enumerated() {
                if position > 0 { out.raw(",") }
                out.string(name)
            }
            out.raw(#"],"name":"#)
            out.string(row.name)
            out.raw(#","release_waiting_on":"#)
            out.string(row.release_waiting_on)
            out.raw(#","released":"#)
            out.string(row.released)
            out.raw(#","state":"#)
            out.string(row.state)
            out.raw(#","target":"#)
            out.string(row.target)
            out.raw(#","wave":"#)
            out.string(row.wave)
            out.raw("}")
        }
        out.raw("]}}")
        return out.bytes
    }
}

/// JSON text into a byte buffer, escaped as Foundation's JSONEncoder escapes it.
struct JSONWriter {
    var bytes: [UInt8] = []

    init() { bytes.reserveCapacity(1 << 16) }

    mutating func raw(_ text: StaticString) {
        text.withUTF8Buffer { bytes.append(contentsOf: $0) }
    }

    mutating func string(_ value: String?) {
        guard let value else { return raw("null") }
        bytes.append(UInt8(ascii: "\""))
        for byte in value.utf8 {
            switch byte {
            case UInt8(ascii: "\""): raw(#"\""#)
            case UInt8(ascii: "\\"): raw(#"\\"#)
            case 0x08: raw(#"\b"#)
            case 0x0C: raw(#"\f"#)
            case 0x0A: raw(#"\n"#)
            case 0x0D: raw(#"\r"#)
            case 0x09: raw(#"\t"#)
            case 0..<0x20:
                let hex = Array("0123456789abcdef".utf8)
                raw(#"\u00"#)
                bytes.append(hex[Int(byte >> 4)])
                bytes.append(hex[Int(byte & 0xF)])
            default: bytes.append(byte)
            }
        }
        bytes.append(UInt8(ascii: "\""))
    }
}
