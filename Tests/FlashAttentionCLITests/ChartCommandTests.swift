import FlashAttentionCLI
import Foundation
import Testing

#if canImport(FoundationXML)
import FoundationXML
#endif

/// `flash-attn chart`: both input formats in, a well-formed SVG with the right panels out.
@Suite struct ChartCommandTests {
    /// What `flash-attn bench --csv` writes (two implementations, forward and backward).
    static let benchCSV = """
        implementation,dtype,batch,heads,head_dim,seqlen,causal,pass,ms,gflops,peak_extra_bytes,relative_difference,samples_ms
        flash-attn cpu,float32,1,8,64,512,false,forward,4.0200,133.50,700000,,4.0100;4.0200;4.0300
        torch sdpa cpu,float32,1,8,64,512,false,forward,5.0200,106.90,1300000,1.7e-06,5.0200
        flash-attn cpu,float32,1,8,64,1024,false,forward,12.4800,172.10,,,12.4800
        torch sdpa cpu,float32,1,8,64,1024,false,forward,18.4300,116.50,,,18.4300
        flash-attn cpu,float32,1,8,64,512,true,forward,2.6400,101.50,,,2.6400
        "torch sdpa cpu",float32,1,8,64,512,true,forward,5.8500,45.90,,,5.8500
        flash-attn cpu,float32,1,8,64,512,true,backward,6.3700,105.30,,,6.3700

        """

    /// The long format of docs/data (comments, bf16 spelling, 0/1 masks, TFLOP/s, a missing peer).
    static let longCSV = """
        # H100 forward, one comment line
        dtype,headdim,seqlen,causal,implementation,tflops
        bf16,64,512,0,ours,277.4
        bf16,64,512,0,"PyTorch SDPA flash (FA2)",262.2
        bf16,64,512,0,PyTorch SDPA cuDNN,394.8
        bf16,128,512,1,ours,221.2
        bf16,128,512,1,"PyTorch SDPA flash (FA2)",184.9
        bf16,128,512,1,PyTorch SDPA cuDNN,
        fp16,64,512,0,ours,277.9
        """

    final class Folder {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("flash-attn-chart-\(UUID().uuidString)").path
        init() throws { try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true) }
        deinit { try? FileManager.default.removeItem(atPath: path) }
        func write(_ name: String, _ text: String) throws -> String {
            let file = path + "/" + name
            try text.write(toFile: file, atomically: true, encoding: .utf8)
            return file
        }
    }

    /// Parses the SVG (failing the test if it is not well-formed XML) and collects what the
    /// checks need: the panel groups and every text element's content.
    final class SVGSummary: NSObject, XMLParserDelegate {
        var panels = 0, bars = 0, root = ""
        var texts: [String] = []
        private var text: String?

        init(_ svg: String) throws {
            super.init()
            let parser = XMLParser(data: Data(svg.utf8))
            parser.delegate = self
            guard parser.parse() else { throw CLIError(message: "malformed SVG: \(String(describing: parser.parserError))") }
        }

        func parser(_ parser: XMLParser, didStartElement name: String, namespaceURI: String?, qualifiedName: String?,
                    attributes: [String: String] = [:]) {
            if root.isEmpty { root = name }
            if name == "g", attributes["class"] == "panel" { panels += 1 }
            if name == "rect", attributes["height"].flatMap(Double.init).map({ $0 > 0 }) == true, attributes["width"] != "100%",
               attributes["width"] != "12" { bars += 1 }
            if name == "text" { text = "" }
        }

        func parser(_ parser: XMLParser, foundCharacters string: String) { text? += string }

        func parser(_ parser: XMLParser, didEndElement name: String, namespaceURI: String?, qualifiedName: String?) {
            if name == "text", let text { texts.append(text) }
            text = nil
        }
    }

    @Test func benchCSVBecomesOnePanelPerHeadDimMaskAndPass() throws {
        let folder = try Folder()
        let input = try folder.write("bench.csv", Self.benchCSV), out = folder.path + "/chart.svg"
        try ChartCommand.parse(["--input", input, "--out", out]).perform()
        let summary = try SVGSummary(try String(contentsOfFile: out, encoding: .utf8))
        #expect(summary.root == "svg")
        // (forward: no mask, causal) + (backward: no mask, causal; the latter has one bar).
        #expect(summary.panels == 4)
        #expect(summary.bars == 7)
        #expect(summary.texts.contains("flash-attn cpu") && summary.texts.contains("torch sdpa cpu"))
        #expect(summary.texts.contains("float32 forward, D=64, causal"))
        #expect(summary.texts.contains("GFLOP/s") && !summary.texts.contains("TFLOP/s"))
        #expect(summary.texts.contains { $0.contains("backward 2.5×") })
    }

    @Test func longFormatInTeraflopsWithFilters() throws {
        let folder = try Folder()
        let input = try folder.write("h100.csv", Self.longCSV), out = folder.path + "/chart.svg"
        try ChartCommand.parse(["--input", input, "--out", out, "--dtypes", "bfloat16", "--title", "H100 <forward>",
                                "--subtitle", "line one\\nline two"]).perform()
        let summary = try SVGSummary(try String(contentsOfFile: out, encoding: .utf8))
        #expect(summary.panels == 2)  // D=64 no mask, D=128 causal; fp16 filtered out
        #expect(summary.bars == 5)  // the cuDNN row without a number is left out
        for legend in ["ours", "PyTorch SDPA flash (FA2)", "PyTorch SDPA cuDNN"] {
            #expect(summary.texts.contains(legend), "legend entry \(legend)")
        }
        #expect(summary.texts.contains("H100 <forward>") && summary.texts.contains("line two"))
        #expect(summary.texts.contains("TFLOP/s") && summary.texts.contains("bfloat16 forward, D=128, causal"))
        #expect(!summary.texts.contains { $0.hasPrefix("float16") })
    }

    @Test func refusalsNameTheFlag() throws {
        let folder = try Folder()
        let out = folder.path + "/chart.svg"
        let noThroughput = try folder.write("a.csv", "implementation,dtype,head_dim,seqlen,causal\nx,float32,64,512,true\n")
        let badMask = try folder.write("b.csv", "implementation,dtype,headdim,seqlen,causal,tflops\nx,bf16,64,512,maybe,1\n")
        let good = try folder.write("c.csv", Self.longCSV)
        for (arguments, flag) in [(["--input", noThroughput], "--input"), (["--input", badMask], "--input"),
                                  (["--input", folder.path + "/missing.csv"], "--input"),
                                  (["--input", good, "--dtypes", "float64"], "--dtypes"),
                                  (["--input", good, "--passes", "sideways"], "--passes"),
                                  (["--input", good, "--unit", "pflops"], "--unit")] {
            #expect { try ChartCommand.parse(arguments + ["--out", out]).perform() } throws: {
                CLIError($0).description.hasPrefix(flag + ":")
            }
        }
        #expect(!FileManager.default.fileExists(atPath: out))
    }
}
