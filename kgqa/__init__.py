"""kgqa"""
