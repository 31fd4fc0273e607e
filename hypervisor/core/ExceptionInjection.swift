import CHAL

/// Injects a synchronous exception into the guest's EL1: records it in the EL1 exception
/// registers and redirects the return to the guest's vector (core/model/GuestExceptionModel).
func injectException(_ exception: InjectedException, frame: UnsafeMutablePointer<TrapFrame>,
                     vcpu: VCpu, instructionLength32: Bool = true) {
  let entry = GuestExceptionEntry(exception, guestState: frame.pointee.spsr,
                                  instructionLength32: instructionLength32)
  let vectorBase = GuestExceptionRegisters.record(
    syndrome: entry.syndrome, faultAddress: entry.faultAddress,
    returnAddress: frame.pointee.elr, savedState: frame.pointee.spsr)
  frame.pointee.elr = vectorBase &+ entry.vectorOffset
  frame.pointee.spsr = GuestExceptionEntry.entryState
}
