/// The key/value kernel's in-kernel timeline (``HopperBackwardDescriptor/timeline``, a diagnostic;
/// `FLASH_ATTENTION_HOPPER_BWD_TIMELINE=<file>`). Every piece is empty when the flag is off, so the shipped
/// sources do not change.
public enum HopperBackwardTimeline {
    /// Words a CTA: the stamps of ``names`` (nanoseconds of the global timer, 0 where a role did not stamp), then the SM id
    /// in the low half of word 15 and the CTA's query steps in its high half.
    public static let words = 16
    /// What each stamp marks, by slot (thread 0; the producer; consumer warpgroup 0's and 1's first thread; the writers).
    public static let names = ["entry", "kv_issued", "kv_landed", "first_step", "last_step", "epilogue_wg0", "writer1_done",
                               "epilogue_wg1", "writer2_done", "last_issued"]

    /// Bytes of the rows behind the turn counters for `ctas` CTAs.
    public static func bytes(ctas: Int) -> Int { ctas * words * 8 }
}

extension HopperBackwardKernel {
    var tl: Bool { descriptor.timeline }

    /// The stamp macro and this CTA's row (behind the turn counters: the runtime sizes them as `tiles · 4` bytes rounded
    /// up to 256), at the kernel's top.
    var timelineSetup: String {
        guard tl else { return "" }
        return """

            // Diagnostic timeline (HopperBackwardDescriptor.timeline): this CTA's 16 words behind the turn counters.
            unsigned long long* const tl_row = (unsigned long long*)((unsigned char*)p.dq_sem
                + \(HopperBackwardKernel.turnCounterBytes)\(ts ? "\n            + (p.tail_units > 0 ? \(HopperBackwardKernel.tailCounterBytes) + (long long)p.tail_units * 2 * BLOCK_N * HEAD_DIM * 4 : 0)" : ""))
                + (((long long)blockIdx.z * gridDim.y + blockIdx.y) * gridDim.x + blockIdx.x) * \(HopperBackwardTimeline.words);
        #define FA_TL(slot) do { unsigned long long t_; asm volatile("mov.u64 %0, %%globaltimer;" : "=l"(t_) :: "memory"); tl_row[slot] = t_; } while (0)
            if (threadIdx.x == 0) FA_TL(0);
        """
    }

    /// A stamp in `slot` by the threads that pass `condition`, as a line of its own (empty when off).
    func timelineMark(_ slot: Int, _ condition: String = "true", indent: Int = 0) -> String {
        tl ? "\n" + String(repeating: " ", count: indent) + "if (\(condition)) FA_TL(\(slot));" : ""
    }

    /// The SM id and step count (thread 0), at the end.
    var timelineEnd: String {
        guard tl else { return "" }
        return """

            if (threadIdx.x == 0) { u32 sm_; asm volatile("mov.u32 %0, %%smid;" : "=r"(sm_)); tl_row[15] = (unsigned long long)sm_ | ((unsigned long long)(u32)steps << 32); }
        """
    }
}
