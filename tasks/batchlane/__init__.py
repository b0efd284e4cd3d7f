"""The batch lane: jobs sent through the providers' batch APIs at half price."""
