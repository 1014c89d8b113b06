/// The sm_90 device helpers every TMA-fed, warp-specialised kernel uses (the Hopper forward and
/// backward): mbarriers, bulk tensor copies, named barriers and the `wgmma` group wait. Each
/// generator appends the helpers only it needs.
enum HopperAsyncPrelude {
    /// `mbar_init`, shared by ``source`` and ``bulkRowCopy``.
    static let mbarrierInit = """
        FA_DEVICE void mbar_init(u32 bar, u32 count) {
            asm volatile("mbarrier.init.shared::cta.b64 [%0], %1;\\n" :: "r"(bar), "r"(count) : "memory");
        }
        """
    /// The arrivals (plain and with a transaction count) and the parity wait, shared by
    /// ``source`` and ``bulkRowCopy``.
    static let mbarrierPhases = """
        // One arrival that also announces `bytes` of copy-engine writes to wait for.
        FA_DEVICE void mbar_expect_tx(u32 bar, u32 bytes) {
            asm volatile("mbarrier.arrive.expect_tx.shared::cta.b64 _, [%0], %1;\\n" :: "r"(bar), "r"(bytes) : "memory");
        }
        FA_DEVICE void mbar_arrive(u32 bar) {
            asm volatile("mbarrier.arrive.shared::cta.b64 _, [%0];\\n" :: "r"(bar) : "memory");
        }
        // Waits until the phase of parity `parity` has completed.
        FA_DEVICE void mbar_wait(u32 bar, u32 parity) {
            u32 done;
            do {
                asm volatile("{\\n.reg .pred p;\\nmbarrier.try_wait.parity.shared::cta.b64 p, [%1], %2;\\nselp.u32 %0, 1, 0, p;\\n}\\n"
                             : "=r"(done) : "r"(bar), "r"(parity) : "memory");
            } while (!done);
        }
        """

    static let source = """
        // MARK: mbarriers, TMA, named barriers (sm_90)

        \(mbarrierInit)
        \(mbarrierPhases)
        // Tile (c0 = column, c1 = row, c2 = head, c3 = batch) of a 4-D map → shared memory, completing on `bar`.
        FA_DEVICE void tma_load(u32 dst, const TensorMap* map, u32 bar, int c0, int c1, int c2, int c3) {
            asm volatile("cp.async.bulk.tensor.4d.shared::cluster.global.mbarrier::complete_tx::bytes [%0], [%1, {%3, %4, %5, %6}], [%2];\\n"
                         :: "r"(dst), "l"((u64)map), "r"(bar), "r"(c0), "r"(c1), "r"(c2), "r"(c3) : "memory");
        }
        FA_DEVICE void tma_prefetch_map(const TensorMap* map) { asm volatile("prefetch.tensormap [%0];\\n" :: "l"((u64)map) : "memory"); }
        FA_DEVICE void named_sync(int id, int count) { asm volatile("bar.sync %0, %1;\\n" :: "r"(id), "r"(count) : "memory"); }
        template <int N> FA_DEVICE void wgmma_wait() { asm volatile("wgmma.wait_group.sync.aligned %0;\\n" :: "n"(N) : "memory"); }
        """

    /// The decode kernel's streaming form (``DecodeKernel``'s `mmaStreamSource`): the mbarrier
    /// helpers of ``source`` without its tensor-map ones, plus a plain bulk copy of one contiguous
    /// run (global → shared, completing on an mbarrier), a zero store and the proxy fences its
    /// ring needs. Added for the decode path; ``source`` is unchanged.
    static let bulkRowCopy = """
        // MARK: mbarriers and bulk copies (sm_90, decode streaming form)

        \(mbarrierInit)
        // Makes the initialised barriers visible to the copy engine (the async proxy).
        FA_DEVICE void fence_mbarrier_init() { asm volatile("fence.mbarrier_init.release.cluster;\\n" ::: "memory"); }
        \(mbarrierPhases)
        // `bytes` (a multiple of 16, both addresses 16-byte aligned) global → shared, completing on `bar`.
        FA_DEVICE void bulk_copy_g2s(u32 dst, const void* src, u32 bytes, u32 bar) {
            asm volatile("cp.async.bulk.shared::cluster.global.mbarrier::complete_tx::bytes [%0], [%1], %2, [%3];\\n"
                         :: "r"(dst), "l"(src), "r"(bytes), "r"(bar) : "memory");
        }
        // Orders this thread's generic-proxy shared-memory writes before later copy-engine writes.
        FA_DEVICE void fence_proxy_async_shared() { asm volatile("fence.proxy.async.shared::cta;\\n" ::: "memory"); }
        FA_DEVICE void st_shared_zero16(u32 addr) {
            asm volatile("st.shared.v4.u32 [%0], {%1, %1, %1, %1};\\n" :: "r"(addr), "r"(0u) : "memory");
        }
        """
}
