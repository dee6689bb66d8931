"""The network side of the data: the Research API client, the hashtag catalogue, collection of video metadata,
downloading, and the availability refresh. Curation (``hf_tiktokactions.curation``) reads what this writes and
never reaches the network; see docs/ARCHITECTURE.md for the layers."""
