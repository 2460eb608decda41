-- nadia_bgw 1.0 -> 1.1 -- core.
--
-- Version 1.0 is released: sql/nadia_bgw--1.0.sql is kept exactly as
-- shipped.  Every SQL change since goes into sql/1.1/NN_concern.sql, one
-- fragment per concern like the 1.0 script was, concatenated in name order
-- into sql/nadia_bgw--1.0--1.1.sql by the Makefile.  A fresh CREATE
-- EXTENSION runs the 1.0 script and then this update, so a fresh install
-- and an updated one are built by the same statements.

\echo Use "ALTER EXTENSION nadia_bgw UPDATE TO '1.1'" to load this file. \quit
