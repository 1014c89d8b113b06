import FlashAttentionCore

// The dQ conversion as a programmatic dependent of the key/value kernel (``HopperBackwardDescriptor/dependentConvert``).
extension HopperBackwardKernel {
    /// The key/value kernel's first statement with the dependent conversion: the conversion pass may launch once every
    /// block of this grid has started (its blocks then take the multiprocessors this grid's last wave leaves idle).
    var launchDependents: String {
        guard descriptor.dependentConvert && descriptor.pass == .keyValue else { return "" }
        return "\n    asm volatile(\"griddepcontrol.launch_dependents;\" ::: \"memory\");   // the dependent conversion pass may start"
    }

    /// Ahead of the tile's reads: wait until the key blocks that see this query block (0 … expect − 1: the ordered turn
    /// passes in key-block order, each after its add completed) have all added. Thread 0 polls; after the barrier every
    /// thread acquires the counter itself, so its reads of the accumulator follow the adds.
    var dependentConvertWait: String {
        guard descriptor.dependentConvert else { return "" }
        return """

            {
                // Dependent launch: the key/value kernel may still run; this tile is final once its turn counter reaches
                // the count of key blocks that see query block m_block (bottom-right causal: key n0 < (m + 1)·BLOCK_M + diag).
                const int n_blocks = (p.seqlen_k + BLOCK_N - 1) / BLOCK_N;
                int expect = n_blocks;
                if (CAUSAL) {
                    const int x = (m_block + 1) * BLOCK_M + p.seqlen_k - p.seqlen_q;
                    expect = x <= 0 ? 0 : imin(n_blocks, (x + BLOCK_N - 1) / BLOCK_N);
                }
                const int* sem = (const int*)p.dq_sem + tile;
                if (threadIdx.x == 0) while (ld_acquire(sem) < expect) __nanosleep(256);
                __syncthreads();
                if (expect > 0) (void)ld_acquire(sem);
            }
        """
    }

    /// The conversion pass's last statement: it completes only once the key/value kernel has (dK and dV are final for the
    /// launches after this one).
    var dependentConvertEnd: String {
        guard descriptor.dependentConvert else { return "" }
        return "\n    asm volatile(\"griddepcontrol.wait;\" ::: \"memory\");   // complete after the key/value grid (its dK, dV)"
    }

    // MARK: - The key/value kernel as a dependent of the preprocess (``HopperBackwardDescriptor/dependentStats``)

    /// The preprocess's first statement: the key/value kernel may launch once every block of this grid has started.
    var preprocessLaunchesDependents: String {
        guard descriptor.dependentStats && descriptor.pass == .preprocess else { return "" }
        return "\n    asm volatile(\"griddepcontrol.launch_dependents;\" ::: \"memory\");   // the key/value kernel may start"
    }

    /// In the producer's step, ahead of its first bulk load of L and D (its K, V, Q and dO loads are already issued):
    /// the preprocess has completed and its rows are visible. Later steps skip it.
    var statisticsWait: String {
        guard descriptor.dependentStats && descriptor.pass == .keyValue else { return "" }
        return "\n" + String(repeating: " ", count: 16)
            + "if (step == 0) asm volatile(\"griddepcontrol.wait;\" ::: \"memory\");   // the preprocess's L and D are written"
    }

    /// The key/value kernel's last statement: thread 0 (the producer, or a CTA's idle thread 0 where the producer ran no
    /// step) waits once more, so this grid completes only after the preprocess.
    var statisticsEnd: String {
        guard descriptor.dependentStats && descriptor.pass == .keyValue else { return "" }
        return "\n    if (threadIdx.x == 0) asm volatile(\"griddepcontrol.wait;\" ::: \"memory\");   // complete after the preprocess"
    }
}
