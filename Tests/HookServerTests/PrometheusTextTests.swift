import Pipeline
import SlipwaySystem
import XCTest
@testable import HookServer

/// The exposition format's details: label escaping, histogram buckets cumulative with +Inf.
final class PrometheusTextTests: XCTestCase {
    func testLabelValuesAreEscapedAndNumbersWrittenPlainly() {
        var out = PrometheusText()
        out.family("x", "gauge", "An example.")
        out.sample("x", [("a", "q\"uote\\back\nline")], 1.5)
        out.sample("x", [], 3)
        XCTAssertEqual(out.text, "# HELP x An example.\n# TYPE x gauge\nx{a=\"q\\\"uote\\\\back\\nline\"} 1.5\nx 3\n")
    }

    func testAHistogramsBucketsAreCumulativeAndEndWithInf() {
        var h = Histogram(bounds: [1, 5])
        for v in [0.5, 2, 3, 10] { h.observe(v) }
        var out = PrometheusText()
        out.histogram("d", [("step", "build")], h)
        XCTAssertEqual(out.text.split(separator: "\n"), [
            "d_bucket{step=\"build\",le=\"1\"} 1", "d_bucket{step=\"build\",le=\"5\"} 3", "d_bucket{step=\"build\",le=\"+Inf\"} 4",
            "d_sum{step=\"build\"} 15.5", "d_count{step=\"build\"} 4",
        ])
    }
}
