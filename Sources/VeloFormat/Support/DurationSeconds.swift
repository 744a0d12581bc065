extension Duration {
    /// The duration in seconds, as reports and logs print it.
    package var inSeconds: Double { Double(components.seconds) + Double(components.attoseconds) / 1e18 }
}
