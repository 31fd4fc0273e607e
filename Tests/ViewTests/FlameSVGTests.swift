// `flame --svg`: a well-formed SVG whose frames are as wide as their time, nest inside their
// parents, and carry the figures in tooltips; the differential one colours growth red and
// shrink blue.

import Foundation
#if canImport(FoundationXML)
import FoundationXML
#endif
import Testing
@testable import HVTrace

/// The frames of a flame SVG: (tooltip, x, y, width, fill).
final class FlameFrames: NSObject, XMLParserDelegate {
    struct Frame { var title = ""; var x = 0.0, y = 0.0, width = 0.0; var fill = "" }
    var frames: [Frame] = []
    var inTitle = false
    var current: Frame?

    static func parse(_ svg: String) throws -> [Frame] {
        let parser = XMLParser(data: Data(svg.utf8))
        let delegate = FlameFrames()
        parser.delegate = delegate
        guard parser.parse() else { throw ReaderFailure(description: "not well-formed XML: \(parser.parserError.map { "\($0)" } ?? "?")") }
        return delegate.frames
    }

    func parser(_ parser: XMLParser, didStartElement name: String, namespaceURI: String?, qualifiedName: String?,
                attributes: [String: String] = [:]) {
        switch name {
        case "g": current = Frame()
        case "title": inTitle = current != nil
        case "rect" where current != nil:
            current!.x = Double(attributes["x"] ?? "") ?? -1
            current!.y = Double(attributes["y"] ?? "") ?? -1
            current!.width = Double(attributes["width"] ?? "") ?? -1
            current!.fill = attributes["fill"] ?? ""
        default: break
        }
    }

    func parser(_ parser: XMLParser, foundCharacters string: String) { if inTitle { current?.title += string } }

    func parser(_ parser: XMLParser, didEndElement name: String, namespaceURI: String?, qualifiedName: String?) {
        if name == "title" { inTitle = false }
        if name == "g", let frame = current { frames.append(frame); current = nil }
    }
}

/// A synthetic trace written through the hypervisor's ring producer (same seed: only the scaled
/// kinds' latencies move).
func syntheticTrace(_ directory: ScratchDirectory, name: String, events: Int = 20_000,
                    scale: [SyntheticExitKind: Double] = [:]) throws -> String {
    var options = SyntheticTraceOptions()
    options.events = events
    options.latencyScale = scale
    let path = directory.path(name)
    _ = try SyntheticTraceGenerator.generate(to: path, options: options)
    return path
}

func syntheticFlame(scale: [SyntheticExitKind: Double] = [:]) throws -> FlameGraph {
    let directory = ScratchDirectory()
    defer { directory.cleanup() }
    return try TraceAnalysis.flameGraph(path: try syntheticTrace(directory, name: "t.hvt", scale: scale)).builder.graph
}

@Test func flameSVGFramesAreAsWideAsTheirTimeAndNest() throws {
    let graph = try syntheticFlame()
    let svg = FlameSVG(title: "t", subtitle: "s", clockFrequency: 1_000_000_000).render(graph.tree())
    let frames = try FlameFrames.parse(svg)
    let all = try #require(frames.first)
    #expect(all.title.hasPrefix("all\ntotal "))
    #expect(abs(all.width - 1180) < 0.01)
    // Every stack of the folded output with at least 0.1 px is a frame, named in its tooltip.
    let total = Double(graph.totalTicks)
    let tree = graph.tree()
    func visibleFrames(_ node: FlameNode) -> Int {
        Double(node.totalTicks) / total * 1180 < 0.1 ? 0 : 1 + node.children.reduce(0) { $0 + visibleFrames($1) }
    }
    #expect(frames.count == visibleFrames(tree))
    for frame in frames.dropFirst() {
        // A frame lies above (smaller y) and within some frame one level below.
        let below = frames.filter { abs($0.y - (frame.y + 17)) < 0.01 }
        #expect(below.contains { $0.x - 0.01 <= frame.x && frame.x + frame.width <= $0.x + $0.width + 0.02 }, "\(frame.title)")
    }
    let wfi = try #require(frames.first { $0.title.hasPrefix("WFI\n") })
    let wfiTicks = try #require(tree.children.first { $0.name == "WFI" }).totalTicks
    #expect(abs(wfi.width - Double(wfiTicks) / total * 1180) < 0.01)
    #expect(wfi.title.contains("\(wfiTicks) ticks"))
}

@Test func differentialFlameSVGColoursGrowthRedAndShrinkBlue() throws {
    let base = try syntheticFlame(), candidate = try syntheticFlame(scale: [.hvc: 2, .pl011: 0.5])
    let tree = FlameNode.differential(base: base.tree(), candidate: candidate.tree())
    let frames = try FlameFrames.parse(FlameSVG(title: "d", subtitle: "", clockFrequency: 0).render(tree))
    func color(_ prefix: String) throws -> (Int, Int, Int) {
        let fill = try #require(frames.first { $0.title.hasPrefix(prefix + "\n") }?.fill)
        let parts = fill.dropFirst(4).dropLast().split(separator: ",").compactMap { Int($0) }
        return (parts[0], parts[1], parts[2])
    }
    let grew = try color("HVC64"), shrank = try color("DABT_LOW"), same = try color("WFI")
    #expect(grew.0 > grew.2 + 50, "HVC64 grew: red")
    #expect(shrank.2 > shrank.0 + 50, "DABT_LOW shrank: blue")
    #expect(abs(same.0 - same.2) < 30, "WFI unchanged: grey")
    #expect(frames.first { $0.title.hasPrefix("HVC64\n") }?.title.contains("change +") == true)
}

@Test func emptyFlameSVGSaysSo() throws {
    let svg = FlameSVG(title: "t", subtitle: "s", clockFrequency: 1).render(FlameGraph().tree())
    #expect(svg.contains("no paired exits"))
    _ = try FlameFrames.parse(svg)
}
