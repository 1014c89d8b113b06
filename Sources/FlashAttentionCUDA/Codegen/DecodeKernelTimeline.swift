/// The in-kernel timeline of the scalar attention kernel (``DecodeKernelDescriptor/timeline``, a
/// diagnostic; `FLASH_ATTENTION_DECODE_TIMELINE=<file>`): thread 0 of each CTA reads the global
/// nanosecond timer at fixed points of its work and writes them, with its SM, into the scratch
/// buffer the runtime passes as `tickets` (no fused combine runs with it). Every piece is empty
/// when the flag is off, so the shipped sources do not change.
///
/// A stamp that follows a load is taken under a condition on the loaded value, so it cannot be
/// read before the value arrives (a predicated or branched timer read waits on its scoreboard).
enum DecodeTimeline {
    /// Stamps per CTA: entry, cache lengths read, first copies issued, q arrived, first K/V step
    /// landed, last step done, group merge done, end; then the SM id and a spare word.
    static let slots = 10
    static let names = ["entry", "seqlens", "issued", "q", "first_kv", "loop_done", "group_merge", "end"]

    /// Opens the kernel body (after the entry line): the stamp registers and the entry stamp.
    static func entry(_ on: Bool) -> String {
        on ? "\n    unsigned long long tl_[8] = {0, 0, 0, 0, 0, 0, 0, 0};\n    FA_TL_MARK(0, true)" : ""
    }

    /// The stamp macro, defined before the kernel.
    static func support(_ on: Bool) -> String {
        on ? """
        #define FA_TL_MARK(slot, cond) if (threadIdx.x == 0 && (cond)) { unsigned long long t_; asm volatile("mov.u64 %0, %%globaltimer;" : "=l"(t_) :: "memory"); tl_[slot] = t_; }

        """ : ""
    }

    /// A stamp in slot `slot` once `condition` (a C expression on a loaded value) holds, as a
    /// line of its own; empty when off.
    static func mark(_ on: Bool, _ slot: Int, _ condition: String = "true") -> String {
        on ? "    FA_TL_MARK(\(slot), \(condition))\n" : ""
    }

    /// The last stamp and the CTA's row of the buffer (thread 0 only).
    static func store(_ on: Bool) -> String {
        on ? """

            FA_TL_MARK(7, true)
            if (threadIdx.x == 0) {
                unsigned long long* row = (unsigned long long*)p.tickets + ((long long)blockIdx.y * gridDim.x + blockIdx.x) * \(slots);
                u32 sm; asm volatile("mov.u32 %0, %%smid;" : "=r"(sm));
                #pragma unroll
                for (int s = 0; s < 8; ++s) row[s] = tl_[s];
                row[8] = sm; row[9] = 0;
            }
        """ : ""
    }
}
