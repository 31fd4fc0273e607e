// One-line descriptions of why a JSON input (report summary, thresholds file) could not be read:
// which field, what was wrong with it, and for malformed JSON the line and column Foundation found.

import Foundation

enum JSONInputProblem {
    /// `error` (from `JSONDecoder`) as e.g. "missing field 'trace.clockFrequencyHz'",
    /// "field 'default.thresholdPct' is not a number", or "not valid JSON (… line 1, column 5)".
    /// `data` is the JSON that failed: JSONDecoder does not say where malformed JSON breaks, so it
    /// is parsed again with JSONSerialization, which does ("around character 12", end of file).
    static func describe(_ error: any Error, data: Data) -> String {
        guard let decoding = error as? DecodingError else { return firstLine("\(error)") }
        func path(_ context: DecodingError.Context, _ last: CodingKey? = nil) -> String {
            let keys = context.codingPath + (last.map { [$0] } ?? [])
            return keys.map { $0.intValue.map { "[\($0)]" } ?? $0.stringValue }.joined(separator: ".")
                .replacingOccurrences(of: ".[", with: "[")
        }
        switch decoding {
        case let .keyNotFound(key, context):
            return "missing field '\(path(context, key))'"
        case let .valueNotFound(_, context):
            return "field '\(path(context))' is null"
        case let .typeMismatch(type, context):
            return "field '\(path(context))' is not \(typeName(type))"
        case let .dataCorrupted(context):
            if context.codingPath.isEmpty { return "not valid JSON: " + syntaxProblem(data) }
            return "field '\(path(context))': \(firstLine(context.debugDescription))"
        @unknown default:
            return firstLine("\(error)")
        }
    }

    /// Where JSONSerialization stops on `data`.
    private static func syntaxProblem(_ data: Data) -> String {
        do {
            _ = try JSONSerialization.jsonObject(with: data, options: [.fragmentsAllowed])
            return "rejected by the decoder"
        } catch {
            let detail = (error as NSError).userInfo[NSDebugDescriptionErrorKey] as? String ?? ""
            if detail.lowercased().contains("end of file") { return "it ends at byte \(data.count) before the JSON value is complete" }
            if detail.isEmpty { return "syntax error" }
            return detail.prefix(1).lowercased() + detail.dropFirst().trimmingCharacters(in: CharacterSet(charactersIn: "."))
        }
    }

    private static func typeName(_ type: Any.Type) -> String {
        switch type {
        case is Double.Type, is Float.Type: return "a number"
        case is Int.Type, is UInt64.Type, is Int64.Type, is UInt32.Type, is Int32.Type: return "an integer"
        case is String.Type: return "a string"
        case is Bool.Type: return "true or false"
        default:
            let name = "\(type)"
            if name.hasPrefix("Array") || name.hasPrefix("[") { return "an array" }
            if name.hasPrefix("Dictionary") { return "an object" }
            return "an object"
        }
    }

    private static func firstLine(_ text: String) -> String {
        text.split(separator: "\n").first.map(String.init) ?? text
    }
}
