/// The version droverd reports in `GetInfo` and both executables print with `--version`.
public enum DroverVersion {
    public static let current = "0.4.0"
}
