"""All file reading and writing of rapkit lives in this package."""
