import FlashAttentionCLI

FlashAttnCommand.main()
