"""Video streaming: which videos play as they are, their HLS renditions made by ffmpeg, and the batch that makes
them in the background-job process. No Flask here."""
