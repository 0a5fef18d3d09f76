/*
 * The one error enum of the project. Functions that can fail return 0 or a
 * negative FS_E* code; hypercalls return them to guests, the management link
 * carries them in RESP frames, and billingd maps them to HTTP statuses in one
 * table. Values are part of the ABI: append, never renumber.
 */
#ifndef FS_ERRORS_H
#define FS_ERRORS_H

enum fs_err {
	FS_OK = 0,
	FS_EINVAL = -1,   /* an argument is malformed or out of range */
	FS_ENOENT = -2,   /* no such domain, image or object */
	FS_EEXIST = -3,   /* the object exists already (duplicate name) */
	FS_ENOMEM = -4,   /* out of memory or out of a static pool */
	FS_EBUSY = -5,    /* the object is in a state that forbids this */
	FS_EAGAIN = -6,   /* refused for now (a limit), retry later */
	FS_EFAULT = -7,   /* a guest pointer outside the guest's memory */
	FS_ERANGE = -8,   /* a value beyond a documented limit */
	FS_EPROTO = -9,   /* a malformed frame or message */
	FS_ENOSYS = -10,  /* unknown operation or hypercall */
	FS_EPERM = -11,   /* not allowed for this caller */
	FS_E2BIG = -12,   /* a request or message larger than allowed */
};

#endif
