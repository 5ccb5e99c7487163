"""Pipeline tổng hợp báo cáo Phong trào thi đua xây dựng xã hội học tập 2023-2030."""

__version__ = "0.1.0"
