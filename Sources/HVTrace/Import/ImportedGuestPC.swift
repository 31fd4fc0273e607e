// The guest PC of an imported exit, in one place. Our exit entries do not carry a PC yet, so the
// importer writes it as the guest_pc extension record right after the exit entry (delta 0); when
// issue 16 gives exit_entry a PC field, this is the one function to change.

enum ImportedGuestPC {
    /// The record that carries `pc` for the exit entry just written.
    static func event(_ pc: UInt64) -> TraceEvent { .guestPC(pc) }
}
