// `report --format html` and `compare --format html` in a real browser: Debian's headless
// chromium loads each page offline (every host name unresolvable), a test script injected after
// ours clicks, types and toggles like a user and writes what it saw into the DOM, which
// --dump-dom returns; JavaScript errors are caught by a handler injected first. A screenshot is
// taken too (look at it: /tmp/hvtrace-html-*.png after a run with HVTRACE_KEEP_SCREENSHOTS=1).

import Foundation
import Testing
@testable import HVTrace

enum Chromium {
    /// Records every error and console.error before the page's own script runs.
    static let errorProbe = """
        <script>window.__errors = []; window.addEventListener("error", function (e) { window.__errors.push(String(e.message)); });
        (function () { var original = console.error; console.error = function () { window.__errors.push(Array.prototype.join.call(arguments, " ")); original.apply(console, arguments); }; })();</script>
        """

    /// Acts like a user once the page has loaded and leaves the results on <body data-test>.
    static let userScript = """
        <script>window.addEventListener("load", function () {
          var out = { ready: document.documentElement.getAttribute("data-views") };
          try {
            var box = document.querySelector(".flamebox");
            if (box) {
              out.framesBefore = +box.getAttribute("data-frames");
              var zoomName = document.body.getAttribute("data-zoom-to"), target = null;
              box.querySelectorAll("svg.flame g").forEach(function (g) { if (!target && g.getAttribute("data-name") === zoomName) target = g; });
              if (target) {
                target.dispatchEvent(new MouseEvent("mouseenter"));
                out.hover = box.querySelector(".flameinfo").textContent;
                target.dispatchEvent(new MouseEvent("click", { bubbles: true }));
                out.zoom = box.getAttribute("data-zoom");
                out.framesZoomed = +box.getAttribute("data-frames");
              }
              var input = box.querySelector("input");
              input.value = document.body.getAttribute("data-search") || "mmio";
              input.dispatchEvent(new Event("input"));
              out.matched = +box.getAttribute("data-matched");
              out.searchInfo = box.querySelector(".flameinfo").textContent;
              box.querySelector("button.reset").click();
              out.zoomAfterReset = box.getAttribute("data-zoom");
              if (box.querySelector("button.width")) { box.querySelector("button.width").click(); out.widthButton = box.querySelector("button.width").textContent; }
            }
            var toggle = document.querySelector(".toggle");
            if (toggle) {
              toggle.querySelectorAll("button")[1].click();
              var hist = document.getElementById(toggle.getAttribute("data-for"));
              out.linearShown = hist.classList.contains("linear") && getComputedStyle(hist.querySelector(".view-linear")).display !== "none";
              out.log2Hidden = getComputedStyle(hist.querySelector(".view-log2")).display === "none";
            }
            out.histograms = document.querySelectorAll(".hist").length;
            out.timelines = document.querySelectorAll("#timeline svg").length;
            out.externalResources = performance.getEntriesByType("resource").length;
          } catch (e) { window.__errors.push("test script: " + e.message); }
          out.errors = window.__errors;
          document.body.setAttribute("data-test", JSON.stringify(out));
        });</script>
        """

    static func arguments(_ directory: ScratchDirectory) -> [String] {
        ["--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars", "--no-first-run", "--disable-extensions",
         "--user-data-dir=" + directory.path("profile"), "--host-resolver-rules=MAP * ~NOTFOUND", "--virtual-time-budget=4000"]
    }

    /// Loads `page` with the probes injected; returns what the user script recorded.
    static func interact(with page: String, zoomTo: String, search: String, in directory: ScratchDirectory) throws -> [String: Any] {
        guard let chromium = TestReaders.chromium else { throw ReaderFailure(description: "chromium not installed: run scripts/setup-test-readers.sh") }
        var html = try String(contentsOfFile: page, encoding: .utf8)
        html = html.replacingOccurrences(of: "<head>\n", with: "<head>\n" + errorProbe + "\n")
        html = html.replacingOccurrences(of: "<body>", with: "<body data-zoom-to=\"\(zoomTo)\" data-search=\"\(search)\">")
        html = html.replacingOccurrences(of: "</body>", with: userScript + "\n</body>")
        let probed = directory.path("probed.html")
        try html.write(toFile: probed, atomically: true, encoding: .utf8)
        let (status, dom, errors) = try runTool(chromium, arguments(directory) + ["--dump-dom", "file://" + probed], timeout: 60)
        #expect(status == 0, "chromium: \(errors.suffix(600))")
        guard let start = dom.range(of: "data-test=\""), let end = dom[start.upperBound...].firstIndex(of: "\"") else {
            throw ReaderFailure(description: "the test script left no result; chromium said:\n\(errors.suffix(800))\nDOM starts:\n\(dom.prefix(400))")
        }
        let json = String(dom[start.upperBound..<end]).replacingOccurrences(of: "&quot;", with: "\"").replacingOccurrences(of: "&amp;", with: "&")
            .replacingOccurrences(of: "&lt;", with: "<").replacingOccurrences(of: "&gt;", with: ">")
        return try #require(try JSONSerialization.jsonObject(with: Data(json.utf8)) as? [String: Any])
    }

    /// A screenshot of `page` (the page itself, nothing injected); returns its size in bytes.
    static func screenshot(_ page: String, to png: String, height: Int, in directory: ScratchDirectory) throws -> Int {
        guard let chromium = TestReaders.chromium else { throw ReaderFailure(description: "chromium not installed") }
        _ = try runTool(chromium, arguments(directory) + ["--window-size=1280,\(height)", "--screenshot=" + png, "file://" + page], timeout: 60)
        let size = (try? FileManager.default.attributesOfItem(atPath: png)[.size] as? Int) ?? 0
        if ProcessInfo.processInfo.environment["HVTRACE_KEEP_SCREENSHOTS"] == "1" {
            let kept = "/tmp/hvtrace-html-" + (png as NSString).lastPathComponent
            try? FileManager.default.removeItem(atPath: kept)
            try? FileManager.default.copyItem(atPath: png, toPath: kept)
        }
        return size
    }
}

/// The page loads nothing from outside: no script/style/image sources, no links, no fonts.
func expectSelfContained(_ html: String, sourceLocation: SourceLocation = #_sourceLocation) {
    for forbidden in ["src=", "<link", "@import", "url(", "https://"] {
        #expect(!html.contains(forbidden), "page contains \(forbidden)", sourceLocation: sourceLocation)
    }
    let http = html.components(separatedBy: "http://").count - 1
    let namespace = html.components(separatedBy: "http://www.w3.org/2000/svg").count - 1
    #expect(http == namespace, "only the SVG namespace may name http://", sourceLocation: sourceLocation)
}

@Test(.enabled(if: TestReaders.chromiumOrCI, TestReaders.missingChromium))
func htmlReportOfTheLinuxBootWorksInChromium() throws {
    let directory = ScratchDirectory()
    defer { directory.cleanup() }
    let page = directory.path("linux-boot.html")
    let trace = repositoryRoot + "/traces/linux-boot.hvt"
    try TraceAnalysis.write(try HTMLReportPage.make(paths: [trace]), to: page)
    let html = try String(contentsOfFile: page, encoding: .utf8)
    let size = html.utf8.count
    #expect(size < 2_000_000, "linux-boot.html is \(size) bytes")
    expectSelfContained(html)
    let report = try TraceAnalysis.report(path: trace)
    let seen = try Chromium.interact(with: page, zoomTo: "IRQ", search: "mmio|vgic", in: directory)
    #expect(seen["errors"] as? [String] == [], "JavaScript errors: \(seen["errors"] ?? "")")
    #expect(seen["ready"] as? String == "ready")
    #expect(seen["histograms"] as? Int == report.reasons.count)
    #expect(seen["timelines"] as? Int == report.trace.cpuCount)
    #expect(seen["externalResources"] as? Int == 0)
    // Zoom: clicking IRQ makes it the full-width frame; its ancestors stay drawn below it.
    #expect(seen["zoom"] as? String == "IRQ")
    let before = try #require(seen["framesBefore"] as? Int), zoomed = try #require(seen["framesZoomed"] as? Int)
    #expect(before > 5 && zoomed >= 3, "frames: \(before) before, \(zoomed) zoomed")
    #expect((seen["hover"] as? String)?.hasPrefix("IRQ — total 29.41 ms (3.19 % of all), self ") == true, "\(seen["hover"] ?? "")")
    // Search sums the matched frames' time: the MMIO phases of DABT_LOW and the vGIC phases.
    let matched = try #require(seen["matched"] as? Int)
    let graph = try TraceAnalysis.flameGraph(path: trace).builder.graph
    let expected = graph.tree().sumOfFirstMatches { $0.range(of: "mmio|vgic", options: .regularExpression) != nil }
    #expect(UInt64(matched) == expected)
    #expect((seen["searchInfo"] as? String)?.hasPrefix("matched ") == true)
    #expect(seen["zoomAfterReset"] as? String == "all")
    #expect(seen["linearShown"] as? Bool == true && seen["log2Hidden"] as? Bool == true)
    let png = try Chromium.screenshot(page, to: directory.path("report.png"), height: 3000, in: directory)
    #expect(png > 50_000, "screenshot is \(png) bytes")
}

@Test(.enabled(if: TestReaders.chromiumOrCI, TestReaders.missingChromium))
func htmlCompareWithADifferentialFlameGraphWorksInChromium() throws {
    let directory = ScratchDirectory()
    defer { directory.cleanup() }
    let base = try syntheticTrace(directory, name: "base.hvt")
    let candidate = try syntheticTrace(directory, name: "candidate.hvt", scale: [.hvc: 1.6, .pl011: 0.5])
    let comparison = Comparison(base: try TraceAnalysis.report(path: base), candidate: try TraceAnalysis.report(path: candidate),
                                baseName: "base.hvt", candidateName: "candidate.hvt")
    let page = directory.path("compare.html")
    try TraceAnalysis.write(try HTMLComparePage.make(comparison: comparison, basePath: base, candidatePath: candidate), to: page)
    let html = try String(contentsOfFile: page, encoding: .utf8)
    expectSelfContained(html)
    #expect(html.contains("<span class=\"badge regression\">regression</span>"))
    #expect(html.contains("\"diff\":true"))
    let seen = try Chromium.interact(with: page, zoomTo: "HVC64", search: "HVC64", in: directory)
    #expect(seen["errors"] as? [String] == [], "JavaScript errors: \(seen["errors"] ?? "")")
    #expect(seen["ready"] as? String == "ready")
    #expect(seen["histograms"] as? Int == comparison.reasons.count)
    #expect(seen["zoom"] as? String == "HVC64")
    #expect((seen["hover"] as? String)?.contains("change +") == true, "\(seen["hover"] ?? "")")
    #expect(seen["widthButton"] as? String == "widths: base")
    let png = try Chromium.screenshot(page, to: directory.path("compare.png"), height: 2400, in: directory)
    #expect(png > 50_000, "screenshot is \(png) bytes")
}

extension FlameNode {
    /// The time of frames matching `matches`, not counting a match inside a match (the page's sum).
    func sumOfFirstMatches(_ matches: (String) -> Bool) -> UInt64 {
        if matches(name) { return totalTicks }
        return children.reduce(0) { $0 + $1.sumOfFirstMatches(matches) }
    }
}
