import Foundation
import SlipwaySystem
import XCTest
@testable import HookServer

final class TemplateTests: XCTestCase {
    private func render(_ source: String, _ context: TemplateValue, partials: [String: String] = [:]) throws -> String {
        var templates = ["t": try Template(name: "t", source: source)]
        for (name, text) in partials { templates[name] = try Template(name: name, source: text) }
        return try TemplateRenderer(templates: templates).render("t", context)
    }

    func testEscapesByDefault() throws {
        let out = try render("<p>{{msg}}</p><a title=\"{{msg}}\">", ["msg": "<script>alert('x')</script>\"&"])
        XCTAssertEqual(out, "<p>&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;&quot;&amp;</p><a title=\"&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;&quot;&amp;\">")
    }

    func testRawOnlyForSafeValues() throws {
        XCTAssertEqual(try render("{{&icon}}", ["icon": .safe("<svg/>")]), "<svg/>")
        // A plain string is escaped even where a safe value would not be.
        XCTAssertEqual(try render("{{x}}", ["x": .string("<b>")]), "&lt;b&gt;")
    }

    func testConditionalsLoopsAndPartials() throws {
        let context: TemplateValue = ["apps": [["name": "a", "up": true], ["name": "b", "up": false]], "csrf": "T"]
        let out = try render("{{#each apps}}[{{name}}:{{#if up}}up{{else}}down{{/if}}:{{> tok}}]{{/each}}{{#unless apps}}none{{/unless}}",
                             context, partials: ["tok": "{{csrf}}"])
        XCTAssertEqual(out, "[a:up:T][b:down:T]")
        XCTAssertEqual(try render("{{#unless apps}}none{{/unless}}", ["apps": []]), "none")
        XCTAssertEqual(try render("{{a.b.c}}", ["a": ["b": ["c": "deep"]]]), "deep")
    }

    func testBrokenTemplatesFailToParse() {
        for source in ["{{#if x}}open", "{{/if}}", "{{#each}}{{/each}}", "{{#if a}}{{/each}}", "{{a b}}"] {
            XCTAssertThrowsError(try Template(name: "bad", source: source), source)
        }
    }

    func testTheShippedTemplatesLoad() throws {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        let renderer = try TemplateRenderer(directory: root.appendingPathComponent("Templates").path)
        XCTAssertNotNil(renderer.staticFiles["app.css"])
        XCTAssertNotNil(renderer.staticFiles["app.js"])
        let html = try renderer.page("login", ["title": "Log in", "error": "<b>bad</b>"])
        XCTAssertTrue(html.contains("&lt;b&gt;bad&lt;/b&gt;"))
        XCTAssertFalse(html.contains("http://") || html.contains("https://"), "no outside resources in the layout")
    }

    func testMissingTemplateDirectoryFailsAtStartUp() {
        XCTAssertThrowsError(try TemplateRenderer(directory: "/nonexistent-templates"))
    }

    func testOnlyHTTPLinks() {
        XCTAssertTrue(HTML.isLinkable("https://github.com/a/b"))
        XCTAssertFalse(HTML.isLinkable("javascript:alert(1)"))
        XCTAssertFalse(HTML.isLinkable("git@github.com:a/b.git"))
    }
}
