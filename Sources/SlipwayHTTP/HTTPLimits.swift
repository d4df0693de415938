/// Request limits, after nginx's and Go's defaults.
public struct HTTPLimits: Sendable {
    /// nginx's large_client_header_buffers: 8 KiB for the request line (414 past it)...
    public var maxRequestLine = 8 * 1024
    /// ...and for any one header line (431 past it).
    public var maxHeaderLine = 8 * 1024
    /// The whole head; Go allows 1 MiB, nginx 4 x 8 KiB; 64 KiB sits between.
    public var maxHeaderBytes = 64 * 1024
    public var maxHeaderCount = 256
    /// The default body limit for a route that names none (nginx's client_max_body_size is 1 MiB).
    public var defaultBodyLimit = 1024 * 1024
    /// Chunk-size lines with extensions, and trailers.
    public var maxChunkLine = 4096
    public var maxTrailerBytes = 8 * 1024

    public init() {}
}
