/// The version of velo, recorded in every archive it writes.
public enum VeloVersion {
    public static let current = "0.1.0"
}
